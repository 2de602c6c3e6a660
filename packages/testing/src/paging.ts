// Paging a connection to its end, as a client does: `first` at a time, each page's endCursor
// as the next `after`, until hasNextPage is false. The pages are checked on the way (full pages
// before the last, endCursor the last edge's cursor, nothing after the end), so a test is left
// to check the order and that nothing is there twice or missing.

import { expect } from 'vitest';

export interface Page<TNode> {
  readonly edges: readonly { readonly cursor: string; readonly node: TNode }[];
  readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
}

/** Every node of the connection in the order served, reading `first` at a time from the start. */
export async function pageToEnd<TNode>(first: number, fetchPage: (after: string | null) => Promise<Page<TNode>>, maxPages = 1000): Promise<TNode[]> {
  const nodes: TNode[] = [];
  let after: string | null = null;
  for (let pages = 1; ; pages += 1) {
    if (pages > maxPages) throw new Error(`still not at the end after ${maxPages} pages`);
    const page: Page<TNode> = await fetchPage(after);
    nodes.push(...page.edges.map((edge) => edge.node));
    expect(page.pageInfo.endCursor, 'endCursor is the cursor of the last edge').toBe(page.edges.at(-1)?.cursor ?? null);
    if (!page.pageInfo.hasNextPage) {
      if (page.pageInfo.endCursor !== null) {
        const beyond = await fetchPage(page.pageInfo.endCursor);
        expect(beyond.edges, 'nothing after the last page').toEqual([]);
        expect(beyond.pageInfo).toEqual({ hasNextPage: false, endCursor: null });
      }
      return nodes;
    }
    expect(page.edges, 'a page before the last is full').toHaveLength(first);
    after = page.pageInfo.endCursor;
  }
}
