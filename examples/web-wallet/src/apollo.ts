// The Apollo Client of the wallet: one HTTP link to /graphql on the page's own origin (the
// Vite dev server or the host of the built files proxies it to the gateway), with the access
// token as `Authorization: Bearer …`. The token lives in memory and sessionStorage only: it is
// gone when the tab closes, and never sits in localStorage or a URL.

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';

const TOKEN_KEY = 'giftpay.token';

let token: string | null = sessionStorage.getItem(TOKEN_KEY);

export function currentToken(): string | null {
  return token;
}

export function keepToken(value: string | null): void {
  token = value;
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

const authorization = new SetContextLink((previous) => ({
  headers: { ...previous.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
}));

export const client = new ApolloClient({
  link: ApolloLink.from([authorization, new HttpLink({ uri: '/graphql' })]),
  // Wallet, User and GiftCard have ids: a mutation's payload (the wallet and its balance after an
  // activation, a spend or a transfer) updates every query that shows them, with no refetch.
  cache: new InMemoryCache(),
});
