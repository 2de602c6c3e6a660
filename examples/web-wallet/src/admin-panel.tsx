// For admins: issue gift cards (each code shown once), or a promotion (one code, N users) and
// watch its redemptions fill up, polled every second, with who redeemed and when.

import { useMutation, useQuery } from '@apollo/client/react';
import { type FormEvent, useState } from 'react';
import { describeError } from './errors.ts';
import type { IssueGiftCardsMutation } from './gql/graphql.ts';
import { DECIMAL_PATTERN, formatMoney } from './money.ts';
import { GiftCardRedemptionsDocument, IssueGiftCardsDocument } from './operations.ts';

type Issued = IssueGiftCardsMutation['issueGiftCards']['giftCards'];

export function AdminPanel({ currencyCode }: { currencyCode: string }) {
  const [issue, { loading }] = useMutation(IssueGiftCardsDocument);
  const [issued, setIssued] = useState<Issued>([]);
  const [promotionId, setPromotionId] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  async function issueWith(input: Parameters<typeof issue>[0], isPromotion: boolean) {
    setProblem(null);
    try {
      const { data } = await issue(input);
      const cards = data?.issueGiftCards.giftCards ?? [];
      setIssued(cards);
      setPromotionId(isPromotion ? (cards[0]?.giftCard.id ?? null) : null);
    } catch (error) {
      setProblem(describeError(error));
    }
  }

  function issueCards(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const fields = new FormData(event.currentTarget);
    void issueWith({ variables: { input: { value: { amount: String(fields.get('amount')), currencyCode }, count: Number(fields.get('count')) } } }, false);
  }

  function issuePromotion(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const fields = new FormData(event.currentTarget);
    const code = String(fields.get('code')).trim();
    void issueWith(
      {
        variables: {
          input: { value: { amount: String(fields.get('amount')), currencyCode }, usageLimit: Number(fields.get('usageLimit')), code: code || null },
        },
      },
      true,
    );
  }

  return (
    <section data-testid="admin">
      <h2>Admin: issue gift cards</h2>
      <form onSubmit={issueCards} aria-label="Issue gift cards">
        <label>
          Value ({currencyCode})
          <input name="amount" inputMode="decimal" pattern={DECIMAL_PATTERN} required />
        </label>
        <label>
          Cards
          <input name="count" type="number" min={1} max={100} defaultValue={1} required />
        </label>
        <button type="submit" disabled={loading}>
          Issue cards
        </button>
      </form>
      <h2>Admin: issue a promotion</h2>
      <form onSubmit={issuePromotion} aria-label="Issue a promotion">
        <label>
          Value per user ({currencyCode})
          <input name="amount" inputMode="decimal" pattern={DECIMAL_PATTERN} required />
        </label>
        <label>
          Users
          <input name="usageLimit" type="number" min={1} defaultValue={100} required />
        </label>
        <label>
          Code (optional)
          <input name="code" autoComplete="off" spellCheck={false} />
        </label>
        <button type="submit" disabled={loading}>
          Issue promotion
        </button>
      </form>
      {problem ? (
        <p className="error" role="alert">
          {problem}
        </p>
      ) : null}
      {issued.length > 0 ? (
        <div className="codes" data-testid="issued-codes">
          <p>Codes are shown only this once:</p>
          <ul>
            {issued.map(({ code, giftCard }) => (
              <li key={giftCard.id}>
                <code>{code}</code> — {formatMoney(giftCard.value)}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {promotionId ? <Redemptions giftCardId={promotionId} /> : null}
    </section>
  );
}

/** A promotion's redemptions, polled: the count rises as users activate the code, and the latest redeemers are listed. */
function Redemptions({ giftCardId }: { giftCardId: string }) {
  const { data, error } = useQuery(GiftCardRedemptionsDocument, { variables: { id: giftCardId }, pollInterval: 1000 });
  const card = data?.giftCard;
  if (error) return <p className="error">{describeError(error)}</p>;
  if (!card) return null;
  const latest = card.redemptions.edges.map((edge) => edge.node);
  return (
    <div>
      <p data-testid="redemptions">
        {card.redemptionCount} / {card.usageLimit} redeemed ({card.status})
      </p>
      <progress max={card.usageLimit} value={card.redemptionCount} />
      {latest.length > 0 ? (
        <table data-testid="redeemers" aria-label="Latest redemptions">
          <caption>
            Latest {latest.length} of {card.redemptions.totalCount}
          </caption>
          <thead>
            <tr>
              <th>User</th>
              <th>When</th>
              <th>Credit</th>
            </tr>
          </thead>
          <tbody>
            {latest.map((redemption) => (
              <tr key={redemption.id}>
                <td>{redemption.user.username}</td>
                <td>{new Date(redemption.createdAt).toLocaleTimeString()}</td>
                <td>{redemption.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
