// `pnpm schema:check`: compares the API schema (schema/schema.graphql, as it is in the working
// tree) with the one on main, using @graphql-inspector/core's diff, prints every change with
// its criticality, and fails on a BREAKING change unless schema/breaking-changes.allow lists
// its path (changes made on purpose; the file is emptied once the release carrying them is
// out). DANGEROUS and NON_BREAKING changes (new fields, new descriptions, new enum values)
// are printed and never fail. Which commit counts as "main" is explained in chooseBase.
// Exit codes: 0 no unallowed breaking change, 1 an unallowed breaking change, 2 the check
// could not run (no base to compare with, an unreadable schema).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Change, CriticalityLevel, diff } from '@graphql-inspector/core';
import { buildSchema, GraphQLError } from 'graphql';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMA_PATH = 'schema/schema.graphql';
export const ALLOW_LIST_PATH = 'schema/breaking-changes.allow';
/** Branches that count as main, the shared one first. */
const MAIN_BRANCHES = ['origin/main', 'main'];

export interface ReportedChange {
  readonly level: CriticalityLevel;
  /** What the allow list matches: the change's path (`Query.giftCard`), or its type when it has none. */
  readonly path: string;
  readonly type: string;
  readonly message: string;
  /** A breaking change listed in the allow list. */
  readonly allowed: boolean;
}

export interface SchemaCheckResult {
  readonly changes: readonly ReportedChange[];
  /** Breaking changes the allow list does not name: these fail the check. */
  readonly blocking: readonly ReportedChange[];
  /** Allow-list entries that match no breaking change (left over from a release, or mistyped). */
  readonly unusedAllowEntries: readonly string[];
}

/** The entries of an allow list: one path a line; `#` starts a comment; blank lines are ignored. */
export function parseAllowList(text: string): string[] {
  return text
    .split('\n')
    .map((line) => (line.split('#')[0] ?? '').trim())
    .filter((line) => line !== '');
}

const identifierOf = (change: Change): string => change.path ?? change.type;

/**
 * The decision: every change between the two SDLs with its criticality, and which breaking
 * changes fail the check. `baseSdl` null means the base had no API schema: nothing can break.
 */
export async function checkSchemaChange(baseSdl: string | null, currentSdl: string, allowList: readonly string[]): Promise<SchemaCheckResult> {
  const current = buildSchema(currentSdl);
  const changes = baseSdl === null ? [] : await diff(buildSchema(baseSdl), current);
  const allowed = new Set(allowList);
  const reported = changes.map(
    (change): ReportedChange => ({
      level: change.criticality.level,
      path: identifierOf(change),
      type: change.type,
      // Descriptions span lines; one change, one line.
      message: change.message.replace(/\s*\n\s*/g, ' '),
      allowed: change.criticality.level === CriticalityLevel.Breaking && allowed.has(identifierOf(change)),
    }),
  );
  const breakingPaths = new Set(reported.filter((change) => change.level === CriticalityLevel.Breaking).map((change) => change.path));
  return {
    changes: reported,
    blocking: reported.filter((change) => change.level === CriticalityLevel.Breaking && !change.allowed),
    unusedAllowEntries: allowList.filter((entry) => !breakingPaths.has(entry)),
  };
}

const ORDER: Record<CriticalityLevel, number> = { BREAKING: 0, DANGEROUS: 1, NON_BREAKING: 2 };

/** What the check prints: each change (breaking first), a count, and what to do about a failure. */
export function formatReport(result: SchemaCheckResult, baseLabel: string): string {
  const lines = [`Comparing ${SCHEMA_PATH} with ${baseLabel}.`];
  if (result.changes.length === 0) lines.push('No changes.');
  const sorted = [...result.changes].sort((a, b) => ORDER[a.level] - ORDER[b.level] || a.path.localeCompare(b.path));
  for (const change of sorted) {
    const note = change.allowed ? `  (intentional: listed in ${ALLOW_LIST_PATH})` : '';
    lines.push(`${change.level.padEnd(12)}  ${change.path}: ${change.message}${note}`);
  }
  const count = (level: CriticalityLevel) => result.changes.filter((change) => change.level === level).length;
  if (result.changes.length > 0) {
    lines.push(
      `${result.changes.length} change(s): ${count(CriticalityLevel.Breaking)} breaking (${result.blocking.length} not allowed), ${count(CriticalityLevel.Dangerous)} dangerous, ${count(CriticalityLevel.NonBreaking)} non-breaking.`,
    );
  }
  for (const entry of result.unusedAllowEntries) {
    lines.push(`note: ${ALLOW_LIST_PATH} lists "${entry}", which matches no breaking change; remove it once released.`);
  }
  if (result.blocking.length > 0) {
    lines.push(
      `Breaking change(s) would break existing clients. Keep the old field or argument (deprecate it with @deprecated), or, if the break is intended and announced, add each path above to ${ALLOW_LIST_PATH} with a comment saying why.`,
    );
  }
  return lines.join('\n');
}

/** What git says about the checkout, gathered by gitFacts; chooseBase decides from it alone. */
export interface GitFacts {
  /** SCHEMA_BASE_REF, when set: compared with exactly, no merge-base. */
  readonly override: string | undefined;
  /** The first of origin/main and main that exists, with its commit. */
  readonly mainBranch: { readonly name: string; readonly commit: string } | null;
  readonly head: string;
  /** The merge-base of HEAD and the main branch. */
  readonly mergeBase: string | null;
  /** HEAD's first parent, when the history holds it. */
  readonly headParent: string | null;
  readonly shallow: boolean;
  /** The working tree's schema differs from HEAD's. */
  readonly schemaChangedSinceHead: boolean;
}

export type BaseChoice =
  | { readonly kind: 'compare'; readonly ref: string; readonly label: string }
  | { readonly kind: 'nothing-to-compare'; readonly reason: string }
  | { readonly kind: 'cannot-tell'; readonly reason: string };

/**
 * Which commit's schema the working tree is compared with:
 * - SCHEMA_BASE_REF when set (CI systems know the commit a push or pull request starts from).
 * - On a branch: the merge-base with origin/main (else main), the main the branch started
 *   from. Not main's tip: a field added on main since would look removed by the branch.
 * - On main itself (the merge-base is HEAD): uncommitted schema changes are compared with
 *   HEAD; a clean tree, as in CI's fresh clone of main, is compared with HEAD~1, the main
 *   before the last commit. A push of several commits is then checked against its last
 *   commit's parent only: CI should set SCHEMA_BASE_REF to the commit the push started from.
 * - The first commit has nothing to compare with; a shallow clone without HEAD~1 cannot tell.
 */
export function chooseBase(facts: GitFacts): BaseChoice {
  if (facts.override) return { kind: 'compare', ref: facts.override, label: `${facts.override} (SCHEMA_BASE_REF)` };
  if (!facts.mainBranch) {
    return { kind: 'cannot-tell', reason: `Neither ${MAIN_BRANCHES.join(' nor ')} exists here: set SCHEMA_BASE_REF to the commit to compare with.` };
  }
  if (!facts.mergeBase) {
    return { kind: 'cannot-tell', reason: `HEAD and ${facts.mainBranch.name} share no history: set SCHEMA_BASE_REF to the commit to compare with.` };
  }
  if (facts.mergeBase !== facts.head) {
    return { kind: 'compare', ref: facts.mergeBase, label: `${facts.mainBranch.name} where this branch left it (${facts.mergeBase.slice(0, 12)})` };
  }
  if (facts.schemaChangedSinceHead) return { kind: 'compare', ref: 'HEAD', label: 'HEAD (uncommitted changes on main)' };
  if (facts.headParent) return { kind: 'compare', ref: facts.headParent, label: `HEAD~1 (${facts.headParent.slice(0, 12)}), main before its last commit` };
  if (facts.shallow) {
    return { kind: 'cannot-tell', reason: 'A shallow clone without HEAD~1: run `git fetch --deepen=1` or set SCHEMA_BASE_REF.' };
  }
  return { kind: 'nothing-to-compare', reason: 'HEAD is the first commit: there is no earlier schema to break.' };
}

function git(args: readonly string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function gitFacts(env: NodeJS.ProcessEnv): GitFacts {
  const head = git(['rev-parse', '--verify', 'HEAD^{commit}']);
  if (!head) throw new CheckError('Not a git checkout with a commit: set SCHEMA_BASE_REF and run from a clone.');
  let mainBranch: GitFacts['mainBranch'] = null;
  for (const name of MAIN_BRANCHES) {
    const commit = git(['rev-parse', '--verify', '--quiet', `${name}^{commit}`]);
    if (commit) {
      mainBranch = { name, commit };
      break;
    }
  }
  const override = env.SCHEMA_BASE_REF?.trim() || undefined;
  return {
    override,
    mainBranch,
    head,
    mergeBase: mainBranch ? git(['merge-base', 'HEAD', mainBranch.commit]) : null,
    headParent: git(['rev-parse', '--verify', '--quiet', 'HEAD~1^{commit}']),
    shallow: git(['rev-parse', '--is-shallow-repository']) === 'true',
    // `git diff --quiet` exits 1 when the file differs: git() then answers null.
    schemaChangedSinceHead: git(['diff', '--quiet', 'HEAD', '--', SCHEMA_PATH]) === null,
  };
}

class CheckError extends Error {}

/** The schema at `ref`, or null when that commit has none (the file is new). */
function schemaAt(ref: string): string | null {
  if (!git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])) throw new CheckError(`Cannot find the commit "${ref}" to compare with.`);
  return git(['show', `${ref}:${SCHEMA_PATH}`]);
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

async function main(): Promise<number> {
  try {
    const choice = chooseBase(gitFacts(process.env));
    if (choice.kind === 'cannot-tell') throw new CheckError(choice.reason);
    if (choice.kind === 'nothing-to-compare') {
      console.log(choice.reason);
      return 0;
    }
    const baseSdl = schemaAt(choice.ref);
    const currentSdl = readFileSync(resolve(root, SCHEMA_PATH), 'utf8');
    const result = await checkSchemaChange(baseSdl, currentSdl, parseAllowList(readOrEmpty(resolve(root, ALLOW_LIST_PATH))));
    console.log(formatReport(result, baseSdl === null ? `${choice.label}, which has no ${SCHEMA_PATH}` : choice.label));
    return result.blocking.length > 0 ? 1 : 0;
  } catch (error) {
    if (!(error instanceof CheckError || error instanceof GraphQLError)) throw error;
    console.error(`schema:check: ${error.message}`);
    return 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
