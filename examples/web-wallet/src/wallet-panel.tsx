// The balance and the latest transactions.

import type { WalletQuery } from './gql/graphql.ts';
import { formatMoney } from './money.ts';

type Wallet = NonNullable<WalletQuery['me']>['wallet'];

export function WalletPanel({ wallet }: { wallet: Wallet }) {
  const transactions = wallet.transactions.edges.map((edge) => edge.node);
  return (
    <section>
      <h2>Balance</h2>
      <p className="balance" data-testid="balance">
        {formatMoney(wallet.balance)}
      </p>
      <h2>Latest transactions</h2>
      {transactions.length === 0 ? (
        <p>None yet: activate a gift card.</p>
      ) : (
        <table data-testid="transactions">
          <thead>
            <tr>
              <th>When</th>
              <th>What</th>
              <th>Amount</th>
              <th>Balance after</th>
            </tr>
          </thead>
          <tbody>
            {transactions.map((transaction) => (
              <tr key={transaction.id}>
                <td>{new Date(transaction.createdAt).toLocaleString()}</td>
                <td>{transaction.description}</td>
                <td>
                  {transaction.kind === 'DEBIT' ? '−' : '+'}
                  {formatMoney(transaction.amount)}
                </td>
                <td>{formatMoney(transaction.balanceAfter)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
