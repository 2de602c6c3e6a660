// What a user does with the wallet: activate a code, spend, transfer. Each payload carries the
// wallet with its new balance, which the cache writes over the one on the page at once; the
// transaction list is fetched again behind it. Spends and transfers send a new idempotency key
// per submission, so a retried request never moves money twice.

import { useMutation } from '@apollo/client/react';
import { type FormEvent, useState } from 'react';
import { describeError } from './errors.ts';
import { DECIMAL_PATTERN, formatMoney } from './money.ts';
import { ActivateGiftCardDocument, SpendDocument, TransferDocument, WalletDocument } from './operations.ts';

const refetchTransactions = { refetchQueries: [WalletDocument] };

/** The outcome line of a form: what happened, or why not. */
function useOutcome() {
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  const shown = outcome ? (
    <p className={outcome.ok ? 'notice' : 'error'} role={outcome.ok ? 'status' : 'alert'}>
      {outcome.text}
    </p>
  ) : null;
  async function run(action: () => Promise<string>) {
    setOutcome(null);
    try {
      setOutcome({ ok: true, text: await action() });
    } catch (error) {
      setOutcome({ ok: false, text: describeError(error) });
    }
  }
  return { shown, run };
}

export function ActivateForm() {
  const [activate, { loading }] = useMutation(ActivateGiftCardDocument, refetchTransactions);
  const { shown, run } = useOutcome();

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const code = String(new FormData(form).get('code'));
    void run(async () => {
      const { data } = await activate({ variables: { input: { code } } });
      form.reset();
      const redemption = data?.activateGiftCard.redemption;
      if (!redemption) return 'Activated.';
      return redemption.status === 'CREDITED'
        ? `${formatMoney(redemption.amount)} added to your wallet.`
        : `${formatMoney(redemption.amount)} is yours; the credit is on its way.`;
    });
  }

  return (
    <section>
      <h2>Activate a gift card</h2>
      <form onSubmit={submit}>
        <label>
          Code
          <input name="code" required autoComplete="off" spellCheck={false} />
        </label>
        <button type="submit" disabled={loading}>
          Activate
        </button>
      </form>
      {shown}
    </section>
  );
}

export function SpendForm({ currencyCode }: { currencyCode: string }) {
  const [spend, { loading }] = useMutation(SpendDocument, refetchTransactions);
  const { shown, run } = useOutcome();

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const fields = new FormData(form);
    const amount = { amount: String(fields.get('amount')), currencyCode };
    void run(async () => {
      await spend({ variables: { input: { amount, description: String(fields.get('description')), idempotencyKey: crypto.randomUUID() } } });
      form.reset();
      return `Spent ${formatMoney(amount)}.`;
    });
  }

  return (
    <section>
      <h2>Spend</h2>
      <form onSubmit={submit}>
        <label>
          Amount ({currencyCode})
          <input name="amount" inputMode="decimal" pattern={DECIMAL_PATTERN} required />
        </label>
        <label>
          Description
          <input name="description" required maxLength={200} />
        </label>
        <button type="submit" disabled={loading}>
          Spend
        </button>
      </form>
      {shown}
    </section>
  );
}

export function TransferForm({ currencyCode }: { currencyCode: string }) {
  const [transfer, { loading }] = useMutation(TransferDocument, refetchTransactions);
  const { shown, run } = useOutcome();

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const fields = new FormData(form);
    const amount = { amount: String(fields.get('amount')), currencyCode };
    const toUsername = String(fields.get('toUsername'));
    void run(async () => {
      await transfer({ variables: { input: { toUsername, amount, idempotencyKey: crypto.randomUUID() } } });
      form.reset();
      return `Sent ${formatMoney(amount)} to ${toUsername}.`;
    });
  }

  return (
    <section>
      <h2>Transfer</h2>
      <form onSubmit={submit}>
        <label>
          To (username)
          <input name="toUsername" required autoComplete="off" />
        </label>
        <label>
          Amount ({currencyCode})
          <input name="amount" inputMode="decimal" pattern={DECIMAL_PATTERN} required />
        </label>
        <button type="submit" disabled={loading}>
          Transfer
        </button>
      </form>
      {shown}
    </section>
  );
}
