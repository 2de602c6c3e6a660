// Fails when the API schema leaves anything undocumented: every type, field, argument, enum
// value, input field and scalar of schema/schema.graphql needs a description, because the
// schema is the API reference clients read (in Sandbox, GraphiQL and generated code). It also
// fails when subgraphs describe the same element differently: composition then keeps one of
// the texts and drops the others without a word. Run as `pnpm schema:descriptions` (CI does).

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeServices } from '@apollo/composition';
import {
  buildSchema,
  type GraphQLArgument,
  type GraphQLNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isSpecifiedDirective,
  isSpecifiedScalarType,
  parse,
} from 'graphql';
import { parse as parseYaml } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function described(element: { description?: string | null | undefined }): boolean {
  return (element.description ?? '').trim() !== '';
}

/** The schema coordinates (`Type`, `Type.field`, `Type.field(arg:)`, `Enum.VALUE`, `@directive`) that have no description. */
export function findMissingDescriptions(sdl: string): string[] {
  const schema = buildSchema(sdl);
  const missing: string[] = [];
  const checkArgs = (owner: string, args: readonly GraphQLArgument[]) => {
    for (const arg of args) if (!described(arg)) missing.push(`${owner}(${arg.name}:)`);
  };
  const types = Object.values(schema.getTypeMap()) as GraphQLNamedType[];
  for (const type of types) {
    // The specification describes its own scalars and the introspection types.
    if (type.name.startsWith('__') || isSpecifiedScalarType(type)) continue;
    if (!described(type)) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (!described(field)) missing.push(`${type.name}.${field.name}`);
        checkArgs(`${type.name}.${field.name}`, field.args);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) if (!described(field)) missing.push(`${type.name}.${field.name}`);
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) if (!described(value)) missing.push(`${type.name}.${value.name}`);
    }
  }
  for (const directive of schema.getDirectives()) {
    if (isSpecifiedDirective(directive)) continue;
    if (!described(directive)) missing.push(`@${directive.name}`);
    checkArgs(`@${directive.name}`, directive.args);
  }
  return missing;
}

interface SupergraphConfig {
  subgraphs: Record<string, { routing_url: string; schema: { file: string } }>;
}

/** Composition's hints about one element described differently in two subgraphs, one line each. */
export function findInconsistentDescriptions(subgraphs: readonly { name: string; sdl: string }[]): string[] {
  const result = composeServices(subgraphs.map(({ name, sdl }) => ({ name, url: `http://${name}.invalid`, typeDefs: parse(sdl) })));
  if (result.errors) throw new Error(`Composition failed:\n${result.errors.map((error) => `  - ${error.message}`).join('\n')}`);
  return (result.hints ?? []).filter((hint) => hint.definition.code === 'INCONSISTENT_DESCRIPTION').map((hint) => hint.message.split('\n')[0] ?? hint.message);
}

function readSubgraphs(): { name: string; sdl: string }[] {
  const config = parseYaml(readFileSync(join(root, 'supergraph.yaml'), 'utf8')) as SupergraphConfig;
  return Object.entries(config.subgraphs).map(([name, subgraph]) => ({ name, sdl: readFileSync(join(root, subgraph.schema.file), 'utf8') }));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const path = resolve(process.argv[2] ?? join(root, 'schema/schema.graphql'));
  const missing = findMissingDescriptions(readFileSync(path, 'utf8'));
  const inconsistent = process.argv[2] ? [] : findInconsistentDescriptions(readSubgraphs());
  if (missing.length > 0) {
    console.error(
      `${missing.length} schema elements of ${path.slice(root.length + 1) || path} have no description; write one in the subgraph's schema.graphql and run \`pnpm compose\`:`,
    );
    for (const coordinate of missing) console.error(`  - ${coordinate}`);
  }
  if (inconsistent.length > 0) {
    console.error(`${inconsistent.length} elements are described differently in two subgraphs; composition keeps only one text. Make them equal:`);
    for (const line of inconsistent) console.error(`  - ${line}`);
  }
  if (missing.length > 0 || inconsistent.length > 0) process.exit(1);
  console.log(`Every element of ${path.slice(root.length + 1) || path} has a description, the same in every subgraph.`);
}
