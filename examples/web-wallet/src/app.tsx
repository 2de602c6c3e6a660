// The wallet: a visitor signs up or logs in; a user sees the balance and the latest
// transactions, activates codes, spends and transfers; an admin also issues cards and
// promotions and watches their redemptions.

import { useApolloClient, useQuery } from '@apollo/client/react';
import { useEffect, useState } from 'react';
import { AdminPanel } from './admin-panel.tsx';
import { currentToken, keepToken } from './apollo.ts';
import { AuthForm } from './auth-form.tsx';
import { describeError, isUnauthenticated } from './errors.ts';
import { WalletDocument } from './operations.ts';
import { ActivateForm, SpendForm, TransferForm } from './wallet-forms.tsx';
import { WalletPanel } from './wallet-panel.tsx';

export function App() {
  const client = useApolloClient();
  const [token, setToken] = useState(currentToken);

  function signIn(value: string) {
    keepToken(value);
    setToken(value);
  }

  async function logOut() {
    keepToken(null);
    setToken(null);
    await client.clearStore();
  }

  if (!token) {
    return (
      <main>
        <h1>GiftPay</h1>
        <AuthForm onSignedIn={signIn} />
      </main>
    );
  }
  return <SignedIn onLogOut={logOut} />;
}

function SignedIn({ onLogOut }: { onLogOut: () => void }) {
  const { data, error } = useQuery(WalletDocument, { variables: { transactions: 10 } });
  const me = data?.me;
  const refused = error !== undefined && isUnauthenticated(error);
  useEffect(() => {
    if (refused) onLogOut();
  }, [refused, onLogOut]);
  return (
    <main>
      <header>
        <h1>GiftPay</h1>
        <span>
          {me ? <strong data-testid="username">{me.username}</strong> : null}{' '}
          <button type="button" onClick={onLogOut}>
            Log out
          </button>
        </span>
      </header>
      {error ? <p className="error">{describeError(error)}</p> : null}
      {me ? (
        <>
          <WalletPanel wallet={me.wallet} />
          <ActivateForm />
          <SpendForm currencyCode={me.wallet.balance.currencyCode} />
          <TransferForm currencyCode={me.wallet.balance.currencyCode} />
          {me.roles.includes('admin') ? <AdminPanel currencyCode={me.wallet.balance.currencyCode} /> : null}
        </>
      ) : (
        <p>Loading…</p>
      )}
    </main>
  );
}
