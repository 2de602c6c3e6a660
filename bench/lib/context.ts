// What every scenario gets: the stack, the processes whose CPU is read, an admin, the URL of
// each path, and the time bounds.

import type { CpuProbe, PathId } from './figures.ts';
import type { GraphQLReply } from './load.ts';
import type { BenchUser } from './seed.ts';
import type { BenchStack } from './stack.ts';

export interface BenchContext {
  readonly stack: BenchStack;
  readonly probe: CpuProbe;
  readonly admin: BenchUser;
  /** GraphQL URL of each gateway under test. */
  readonly gatewayUrls: Readonly<Partial<Record<PathId, string>>>;
  /** After this long, a burst sends nothing more (what is in flight finishes). */
  readonly deadlineMs: number;
  /** How long a flash may take to settle its owed credits after its burst. */
  readonly settleMs: number;
}

/** The GraphQL URL a scenario uses on `path`: a gateway's, or the given subgraph's own. */
export function urlOf(context: BenchContext, path: PathId, subgraph: 'wallet' | 'gift-cards'): string {
  if (path === 'direct') return `${context.stack.subgraphUrls[subgraph]}/graphql`;
  const url = context.gatewayUrls[path];
  if (!url) throw new Error(`no GraphQL URL for the path ${path}`);
  return url;
}

/** The first error's code, or OK when the answer has data and no error. */
export function codeOf(reply: GraphQLReply): string | null {
  const first = reply.errors?.[0];
  if (!first) return null;
  const code = first.extensions?.code;
  return typeof code === 'string' ? code : `HTTP_${reply.status}_NO_CODE`;
}
