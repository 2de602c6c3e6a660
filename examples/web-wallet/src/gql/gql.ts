/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      token\n      user {\n        id\n        username\n      }\n    }\n  }\n": typeof types.SignUpDocument,
    "\n  mutation LogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      token\n      user {\n        id\n        username\n      }\n    }\n  }\n": typeof types.LogInDocument,
    "\n  query Wallet($transactions: Int!) {\n    me {\n      id\n      username\n      roles\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n        transactions(first: $transactions) {\n          edges {\n            node {\n              id\n              kind\n              amount {\n                amount\n                currencyCode\n              }\n              balanceAfter {\n                amount\n                currencyCode\n              }\n              description\n              createdAt\n            }\n          }\n        }\n      }\n    }\n  }\n": typeof types.WalletDocument,
    "\n  mutation ActivateGiftCard($input: ActivateGiftCardInput!) {\n    activateGiftCard(input: $input) {\n      redemption {\n        id\n        status\n        amount {\n          amount\n          currencyCode\n        }\n      }\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n      }\n    }\n  }\n": typeof types.ActivateGiftCardDocument,
    "\n  mutation Spend($input: SpendInput!) {\n    spend(input: $input) {\n      transaction {\n        id\n      }\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n      }\n    }\n  }\n": typeof types.SpendDocument,
    "\n  mutation Transfer($input: TransferInput!) {\n    transfer(input: $input) {\n      transaction {\n        id\n      }\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n      }\n    }\n  }\n": typeof types.TransferDocument,
    "\n  mutation IssueGiftCards($input: IssueGiftCardsInput!) {\n    issueGiftCards(input: $input) {\n      giftCards {\n        code\n        giftCard {\n          id\n          last4\n          usageLimit\n          redemptionCount\n          status\n          value {\n            amount\n            currencyCode\n          }\n        }\n      }\n    }\n  }\n": typeof types.IssueGiftCardsDocument,
    "\n  query GiftCardRedemptions($id: ID!) {\n    giftCard(id: $id) {\n      id\n      status\n      usageLimit\n      redemptionCount\n      redemptions(first: 10) {\n        totalCount\n        edges {\n          node {\n            id\n            createdAt\n            status\n            user {\n              id\n              username\n            }\n          }\n        }\n      }\n    }\n  }\n": typeof types.GiftCardRedemptionsDocument,
};
const documents: Documents = {
    "\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      token\n      user {\n        id\n        username\n      }\n    }\n  }\n": types.SignUpDocument,
    "\n  mutation LogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      token\n      user {\n        id\n        username\n      }\n    }\n  }\n": types.LogInDocument,
    "\n  query Wallet($transactions: Int!) {\n    me {\n      id\n      username\n      roles\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n        transactions(first: $transactions) {\n          edges {\n            node {\n              id\n              kind\n              amount {\n                amount\n                currencyCode\n              }\n              balanceAfter {\n                amount\n                currencyCode\n              }\n              description\n              createdAt\n            }\n          }\n        }\n      }\n    }\n  }\n": types.WalletDocument,
    "\n  mutation ActivateGiftCard($input: ActivateGiftCardInput!) {\n    activateGiftCard(input: $input) {\n      redemption {\n        id\n        status\n        amount {\n          amount\n          currencyCode\n        }\n      }\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n      }\n    }\n  }\n": types.ActivateGiftCardDocument,
    "\n  mutation Spend($input: SpendInput!) {\n    spend(input: $input) {\n      transaction {\n        id\n      }\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n      }\n    }\n  }\n": types.SpendDocument,
    "\n  mutation Transfer($input: TransferInput!) {\n    transfer(input: $input) {\n      transaction {\n        id\n      }\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n      }\n    }\n  }\n": types.TransferDocument,
    "\n  mutation IssueGiftCards($input: IssueGiftCardsInput!) {\n    issueGiftCards(input: $input) {\n      giftCards {\n        code\n        giftCard {\n          id\n          last4\n          usageLimit\n          redemptionCount\n          status\n          value {\n            amount\n            currencyCode\n          }\n        }\n      }\n    }\n  }\n": types.IssueGiftCardsDocument,
    "\n  query GiftCardRedemptions($id: ID!) {\n    giftCard(id: $id) {\n      id\n      status\n      usageLimit\n      redemptionCount\n      redemptions(first: 10) {\n        totalCount\n        edges {\n          node {\n            id\n            createdAt\n            status\n            user {\n              id\n              username\n            }\n          }\n        }\n      }\n    }\n  }\n": types.GiftCardRedemptionsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      token\n      user {\n        id\n        username\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      token\n      user {\n        id\n        username\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      token\n      user {\n        id\n        username\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation LogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      token\n      user {\n        id\n        username\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Wallet($transactions: Int!) {\n    me {\n      id\n      username\n      roles\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n        transactions(first: $transactions) {\n          edges {\n            node {\n              id\n              kind\n              amount {\n                amount\n                currencyCode\n              }\n              balanceAfter {\n                amount\n                currencyCode\n              }\n              description\n              createdAt\n            }\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query Wallet($transactions: Int!) {\n    me {\n      id\n      username\n      roles\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n        transactions(first: $transactions) {\n          edges {\n            node {\n              id\n              kind\n              amount {\n                amount\n                currencyCode\n              }\n              balanceAfter {\n                amount\n                currencyCode\n              }\n              description\n              createdAt\n            }\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ActivateGiftCard($input: ActivateGiftCardInput!) {\n    activateGiftCard(input: $input) {\n      redemption {\n        id\n        status\n        amount {\n          amount\n          currencyCode\n        }\n      }\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation ActivateGiftCard($input: ActivateGiftCardInput!) {\n    activateGiftCard(input: $input) {\n      redemption {\n        id\n        status\n        amount {\n          amount\n          currencyCode\n        }\n      }\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Spend($input: SpendInput!) {\n    spend(input: $input) {\n      transaction {\n        id\n      }\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation Spend($input: SpendInput!) {\n    spend(input: $input) {\n      transaction {\n        id\n      }\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Transfer($input: TransferInput!) {\n    transfer(input: $input) {\n      transaction {\n        id\n      }\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation Transfer($input: TransferInput!) {\n    transfer(input: $input) {\n      transaction {\n        id\n      }\n      wallet {\n        id\n        balance {\n          amount\n          currencyCode\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation IssueGiftCards($input: IssueGiftCardsInput!) {\n    issueGiftCards(input: $input) {\n      giftCards {\n        code\n        giftCard {\n          id\n          last4\n          usageLimit\n          redemptionCount\n          status\n          value {\n            amount\n            currencyCode\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation IssueGiftCards($input: IssueGiftCardsInput!) {\n    issueGiftCards(input: $input) {\n      giftCards {\n        code\n        giftCard {\n          id\n          last4\n          usageLimit\n          redemptionCount\n          status\n          value {\n            amount\n            currencyCode\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query GiftCardRedemptions($id: ID!) {\n    giftCard(id: $id) {\n      id\n      status\n      usageLimit\n      redemptionCount\n      redemptions(first: 10) {\n        totalCount\n        edges {\n          node {\n            id\n            createdAt\n            status\n            user {\n              id\n              username\n            }\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query GiftCardRedemptions($id: ID!) {\n    giftCard(id: $id) {\n      id\n      status\n      usageLimit\n      redemptionCount\n      redemptions(first: 10) {\n        totalCount\n        edges {\n          node {\n            id\n            createdAt\n            status\n            user {\n              id\n              username\n            }\n          }\n        }\n      }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;