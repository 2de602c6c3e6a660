// Checks that the API schema contains the whole public contract (schema/contract/api.graphql,
// a copy of the published one): every type, field, argument (with its type and default), input
// field (likewise), enum value and scalar, spelled exactly so, and no argument or input field
// required that the contract does not have. What schema/contract/api.next.graphql adds (asked
// for by open work) is listed when missing, as pending, without failing.
// Usage: `pnpm contract` or `node scripts/contract-check.ts [schema/schema.graphql]`.
// Exits 0 when nothing of the contract is missing, 1 when something is, 2 when it cannot run.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildSchema,
  type GraphQLArgument,
  type GraphQLInputField,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isNonNullType,
  isObjectType,
  print,
} from 'graphql';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CONTRACT_PATH = join(root, 'schema/contract/api.graphql');
export const NEXT_CONTRACT_PATH = join(root, 'schema/contract/api.next.graphql');

export function loadSchema(sdl: string): GraphQLSchema {
  return buildSchema(sdl, { assumeValidSDL: true });
}

/** A default value as the SDL writes it, or "no default". */
function defaultOf(input: GraphQLArgument | GraphQLInputField): string {
  return input.astNode?.defaultValue ? print(input.astNode.defaultValue) : 'no default';
}

/** Non-null with no default: a caller must send it. */
function isRequired(input: GraphQLArgument | GraphQLInputField): boolean {
  return isNonNullType(input.type) && input.defaultValue === undefined;
}

/** What of `contract` the `actual` schema lacks or spells differently, one line each. */
export function missingFrom(contract: GraphQLSchema, actual: GraphQLSchema): string[] {
  const missing: string[] = [];
  for (const type of Object.values(contract.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    const other = actual.getType(type.name);
    if (!other) {
      missing.push(`type ${type.name}`);
      continue;
    }
    if (other.constructor !== type.constructor) {
      missing.push(`type ${type.name} is a ${other.constructor.name}, not a ${type.constructor.name}`);
      continue;
    }
    if ((isObjectType(type) || isInterfaceType(type)) && (isObjectType(other) || isInterfaceType(other))) {
      const theirs = other.getFields();
      for (const field of Object.values(type.getFields())) {
        const twin = theirs[field.name];
        if (!twin) {
          missing.push(`${type.name}.${field.name}`);
          continue;
        }
        // An output field may promise more than the contract (non-null where the contract allows null).
        const stronger = String(twin.type) === `${String(field.type)}!`;
        if (String(twin.type) !== String(field.type) && !stronger) missing.push(`${type.name}.${field.name} is ${twin.type}, not ${field.type}`);
        for (const arg of field.args) {
          const twinArg = twin.args.find((candidate) => candidate.name === arg.name);
          const name = `${type.name}.${field.name}(${arg.name})`;
          if (!twinArg) missing.push(name);
          else if (String(twinArg.type) !== String(arg.type)) missing.push(`${name} is ${twinArg.type}, not ${arg.type}`);
          else if (defaultOf(twinArg) !== defaultOf(arg)) missing.push(`${name} defaults to ${defaultOf(twinArg)}, not ${defaultOf(arg)}`);
        }
        // An argument a client written against the contract does not send must not be required.
        for (const extra of twin.args) {
          if (!field.args.some((arg) => arg.name === extra.name) && isRequired(extra))
            missing.push(`${type.name}.${field.name}(${extra.name}) is required and not in the contract`);
        }
      }
    }
    if (isInputObjectType(type) && isInputObjectType(other)) {
      const theirs = other.getFields();
      const ours = type.getFields();
      for (const field of Object.values(ours)) {
        const twin = theirs[field.name];
        const name = `${type.name}.${field.name}`;
        if (!twin) missing.push(name);
        else if (String(twin.type) !== String(field.type)) missing.push(`${name} is ${twin.type}, not ${field.type}`);
        else if (defaultOf(twin) !== defaultOf(field)) missing.push(`${name} defaults to ${defaultOf(twin)}, not ${defaultOf(field)}`);
      }
      for (const extra of Object.values(theirs)) {
        if (!ours[extra.name] && isRequired(extra)) missing.push(`${type.name}.${extra.name} is required and not in the contract`);
      }
    }
    if (isEnumType(type) && isEnumType(other)) {
      const values = new Set(other.getValues().map((value) => value.name));
      for (const value of type.getValues()) if (!values.has(value.name)) missing.push(`${type.name}.${value.name}`);
    }
  }
  return missing;
}

export interface ContractReport {
  /** Of api.graphql: each one fails the check. */
  readonly missing: string[];
  /** Of api.next.graphql: not built yet, not a failure. */
  readonly pending: string[];
}

export function checkContract(schemaSdl: string, contractSdl: string, nextContractSdl: string | null): ContractReport {
  const actual = loadSchema(schemaSdl);
  return {
    missing: missingFrom(loadSchema(contractSdl), actual),
    pending: nextContractSdl === null ? [] : missingFrom(loadSchema(nextContractSdl), actual),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const schemaPath = resolve(process.argv[2] ?? join(root, 'schema/schema.graphql'));
  let report: ContractReport;
  try {
    report = checkContract(
      readFileSync(schemaPath, 'utf8'),
      readFileSync(CONTRACT_PATH, 'utf8'),
      existsSync(NEXT_CONTRACT_PATH) ? readFileSync(NEXT_CONTRACT_PATH, 'utf8') : null,
    );
  } catch (error) {
    console.error(`contract-check: cannot run: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
  if (report.pending.length > 0) {
    console.log(`contract-check: not built yet from api.next.graphql (asked for by open work; not a failure): ${report.pending.length}`);
    for (const line of report.pending) console.log(`  - ${line}`);
  }
  if (report.missing.length === 0) {
    console.log(`contract-check: ${schemaPath} holds the whole contract`);
    process.exit(0);
  }
  console.log(`contract-check: ${report.missing.length} missing from ${schemaPath}:`);
  for (const line of report.missing) console.log(`  - ${line}`);
  process.exit(1);
}
