// Every GraphQL operation the wallet sends. `graphql()` returns a TypedDocumentNode generated
// by `pnpm codegen` from schema/schema.graphql: variables and results are typed, Decimal and
// DateTime are strings.

import { graphql } from './gql';

export const SignUpDocument = graphql(`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      token
      user {
        id
        username
      }
    }
  }
`);

export const LogInDocument = graphql(`
  mutation LogIn($input: LogInInput!) {
    logIn(input: $input) {
      token
      user {
        id
        username
      }
    }
  }
`);

export const WalletDocument = graphql(`
  query Wallet($transactions: Int!) {
    me {
      id
      username
      roles
      wallet {
        id
        balance {
          amount
          currencyCode
        }
        transactions(first: $transactions) {
          edges {
            node {
              id
              kind
              amount {
                amount
                currencyCode
              }
              balanceAfter {
                amount
                currencyCode
              }
              description
              createdAt
            }
          }
        }
      }
    }
  }
`);

export const ActivateGiftCardDocument = graphql(`
  mutation ActivateGiftCard($input: ActivateGiftCardInput!) {
    activateGiftCard(input: $input) {
      redemption {
        id
        status
        amount {
          amount
          currencyCode
        }
      }
      wallet {
        id
        balance {
          amount
          currencyCode
        }
      }
    }
  }
`);

export const SpendDocument = graphql(`
  mutation Spend($input: SpendInput!) {
    spend(input: $input) {
      transaction {
        id
      }
      wallet {
        id
        balance {
          amount
          currencyCode
        }
      }
    }
  }
`);

export const TransferDocument = graphql(`
  mutation Transfer($input: TransferInput!) {
    transfer(input: $input) {
      transaction {
        id
      }
      wallet {
        id
        balance {
          amount
          currencyCode
        }
      }
    }
  }
`);

export const IssueGiftCardsDocument = graphql(`
  mutation IssueGiftCards($input: IssueGiftCardsInput!) {
    issueGiftCards(input: $input) {
      giftCards {
        code
        giftCard {
          id
          last4
          usageLimit
          redemptionCount
          status
          value {
            amount
            currencyCode
          }
        }
      }
    }
  }
`);

export const GiftCardRedemptionsDocument = graphql(`
  query GiftCardRedemptions($id: ID!) {
    giftCard(id: $id) {
      id
      status
      usageLimit
      redemptionCount
      redemptions(first: 10) {
        totalCount
        edges {
          node {
            id
            createdAt
            status
            user {
              id
              username
            }
          }
        }
      }
    }
  }
`);
