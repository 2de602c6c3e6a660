// A GraphQL client of the gateway like any other: a POST with the token as
// `Authorization: Bearer`, GraphQL errors raised as ApiError (with their extensions.code),
// a refused connection or an answer that is not GraphQL as NetworkError.

import { ApiError, type GraphQLErrorEntry, NetworkError } from './errors.ts';

export interface GraphQLClient {
  readonly url: string;
  request<TData>(query: string, variables?: Record<string, unknown>, options?: { signal?: AbortSignal }): Promise<TData>;
}

export function createClient(url: string, token?: string): GraphQLClient {
  return {
    url,
    async request<TData>(query: string, variables: Record<string, unknown> = {}, options: { signal?: AbortSignal } = {}): Promise<TData> {
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/graphql-response+json, application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: JSON.stringify({ query, variables }),
          signal: options.signal ?? null,
        });
      } catch (error) {
        if (options.signal?.aborted) throw error;
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        throw new NetworkError(`Cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}. Is the gateway running?`);
      }
      const text = await response.text();
      let body: { data?: TData | null; errors?: GraphQLErrorEntry[] };
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        throw new NetworkError(`${url} answered HTTP ${response.status} without a GraphQL answer: is it GiftPay's gateway?`);
      }
      if (body.errors && body.errors.length > 0) throw new ApiError(body.errors, response.status);
      if (body.data == null) throw new NetworkError(`${url} answered HTTP ${response.status} with neither data nor errors.`);
      return body.data;
    },
  };
}
