// The flagship path through the real gateway over HTTP: sign up, log in, issue a card as an
// admin, activate it and read the new balance in the same answer.

import { createTestDatabase, type Page, pageToEnd, type SignedIn, type Stack, startStack } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;
let admin: SignedIn;

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url });
  admin = await stack.logInAdmin();
});

afterAll(async () => {
  await stack?.close();
});

const ISSUE = `mutation ($input: IssueGiftCardsInput!) {
  issueGiftCards(input: $input) { giftCards { code giftCard { id last4 status usageLimit redemptionCount value { amount currencyCode } } } }
}`;

const ACTIVATE = `mutation ($code: String!) {
  activateGiftCard(input: { code: $code }) {
    giftCard { id status redemptionCount }
    redemption { id status amount { amount currencyCode } }
    wallet { id balance { amount currencyCode } }
  }
}`;

interface ActivationData {
  activateGiftCard: {
    giftCard: { id: string; status: string; redemptionCount: number };
    redemption: { id: string; status: string; amount: { amount: string; currencyCode: string } };
    wallet: { id: string; balance: { amount: string; currencyCode: string } };
  };
}

async function issueCard(amount = '1000000', extra: Record<string, unknown> = {}): Promise<{ code: string; id: string }> {
  return stack.issueGiftCard({ amount, ...extra });
}

describe('accounts through the gateway', () => {
  it('signs up, logs in with any letter case, and answers me with the same user', async () => {
    const user = await stack.signUp('Carol.Example');
    const login = await stack.graphql<{ logIn: { token: string; expiresIn: number; user: { id: string } } }>(
      'mutation { logIn(input: { username: "carol.example", password: "a-long-enough-password" }) { token expiresIn user { id } } }',
    );
    expect(login.data?.logIn.user.id).toBe(user.userId);
    expect(login.data?.logIn.expiresIn).toBe(3600);
    const me = await stack.graphql<{ me: { id: string; username: string; roles: string[] } }>('{ me { id username roles } }', {
      token: login.data?.logIn.token,
    });
    expect(me.data?.me).toEqual({ id: user.userId, username: 'Carol.Example', roles: ['user'] });
  });

  it('answers me with null for an anonymous request', async () => {
    const result = await stack.graphql('{ me { id } }');
    expect(result.status).toBe(200);
    expect(result.data).toEqual({ me: null });
  });

  it('refuses a taken username without regard to case', async () => {
    await stack.signUp('dave_1');
    const result = await stack.graphql('mutation { signUp(input: { username: "DAVE_1", password: "another-password" }) { token } }');
    expect(result.errors?.[0]?.extensions?.code).toBe('USERNAME_TAKEN');
  });

  it('gives the same INVALID_CREDENTIALS for an unknown user and a wrong password', async () => {
    await stack.signUp('erin_1');
    const unknown = await stack.graphql('mutation { logIn(input: { username: "nobody_here", password: "a-long-enough-password" }) { token } }');
    const wrong = await stack.graphql('mutation { logIn(input: { username: "erin_1", password: "not-the-password" }) { token } }');
    expect(unknown.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
    expect(wrong.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
    expect(unknown.errors?.[0]?.message).toBe(wrong.errors?.[0]?.message);
  });

  it('refuses usernames and passwords outside the rules with BAD_USER_INPUT', async () => {
    for (const input of [
      { username: 'ab', password: 'a-long-enough-password' },
      { username: 'has space', password: 'a-long-enough-password' },
      { username: 'fine_name', password: 'short' },
    ]) {
      const result = await stack.graphql('mutation ($input: SignUpInput!) { signUp(input: $input) { token } }', { variables: { input } });
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });
});

describe('activateGiftCard through the gateway', () => {
  it('credits the wallet and returns the new balance in the same answer', async () => {
    const card = await issueCard('1000000');
    const user = await stack.signUp();
    const result = await stack.graphql<ActivationData>(ACTIVATE, { token: user.token, variables: { code: card.code } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.activateGiftCard.redemption).toMatchObject({ status: 'CREDITED', amount: { amount: '1000000', currencyCode: 'IRR' } });
    expect(result.data?.activateGiftCard.giftCard).toMatchObject({ id: card.id, status: 'USED_UP', redemptionCount: 1 });
    expect(result.data?.activateGiftCard.wallet.balance).toEqual({ amount: '1000000', currencyCode: 'IRR' });

    const history = await stack.graphql<{
      me: { wallet: { transactions: { edges: { node: { kind: string; amount: { amount: string }; balanceAfter: { amount: string } } }[] } } };
    }>('{ me { wallet { transactions { edges { node { kind amount { amount } balanceAfter { amount } } } } } } }', { token: user.token });
    expect(history.data?.me.wallet.transactions.edges.map((edge) => edge.node)).toEqual([
      { kind: 'CREDIT', amount: { amount: '1000000' }, balanceAfter: { amount: '1000000' } },
    ]);
  });

  it('accepts the code in lower case, with spaces, or without dashes', async () => {
    const card = await issueCard('500');
    const user = await stack.signUp();
    const messy = ` ${card.code.toLowerCase().replaceAll('-', ' ')} `;
    const result = await stack.graphql<ActivationData>(ACTIVATE, { token: user.token, variables: { code: messy } });
    expect(result.data?.activateGiftCard.wallet.balance.amount).toBe('500');
  });

  it('refuses a second activation by the same user with GIFT_CARD_ALREADY_REDEEMED and by another user with GIFT_CARD_USED_UP', async () => {
    const card = await issueCard('700');
    const first = await stack.signUp();
    const second = await stack.signUp();
    await stack.graphql(ACTIVATE, { token: first.token, variables: { code: card.code } });
    const again = await stack.graphql(ACTIVATE, { token: first.token, variables: { code: card.code } });
    expect(again.errors?.[0]?.extensions?.code).toBe('GIFT_CARD_ALREADY_REDEEMED');
    const other = await stack.graphql(ACTIVATE, { token: second.token, variables: { code: card.code } });
    expect(other.errors?.[0]?.extensions?.code).toBe('GIFT_CARD_USED_UP');
    const balance = await stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', {
      token: first.token,
    });
    expect(balance.data?.me.wallet.balance.amount).toBe('700');
  });

  it('refuses an unknown code with GIFT_CARD_NOT_FOUND, whatever its characters, and an empty one with BAD_USER_INPUT', async () => {
    const user = await stack.signUp();
    const unknown = await stack.graphql(ACTIVATE, { token: user.token, variables: { code: 'ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ' } });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('GIFT_CARD_NOT_FOUND');
    const noCardCouldHaveIt = await stack.graphql(ACTIVATE, { token: user.token, variables: { code: 'WRONG_CODE!' } });
    expect(noCardCouldHaveIt.errors?.map((error) => error.extensions?.code)).toEqual(['GIFT_CARD_NOT_FOUND']);
    const empty = await stack.graphql(ACTIVATE, { token: user.token, variables: { code: ' - ' } });
    expect(empty.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a disabled card with GIFT_CARD_DISABLED', async () => {
    const card = await issueCard('100');
    const disabled = await stack.graphql<{ disableGiftCard: { status: string } }>('mutation ($id: ID!) { disableGiftCard(id: $id) { status } }', {
      token: admin.token,
      variables: { id: card.id },
    });
    expect(disabled.data?.disableGiftCard.status).toBe('DISABLED');
    const user = await stack.signUp();
    const result = await stack.graphql(ACTIVATE, { token: user.token, variables: { code: card.code } });
    expect(result.errors?.[0]?.extensions?.code).toBe('GIFT_CARD_DISABLED');
  });

  it('credits exactly once when 50 users activate one single-use code at the same moment', async () => {
    const card = await issueCard('1000');
    const users = await Promise.all(Array.from({ length: 50 }, () => stack.signUp()));
    const results = await Promise.all(users.map((user) => stack.graphql<ActivationData>(ACTIVATE, { token: user.token, variables: { code: card.code } })));
    const credited = results.filter((result) => result.data?.activateGiftCard.redemption.status === 'CREDITED');
    const refused = results.map((result) => result.errors?.[0]?.extensions?.code).filter(Boolean);
    expect(credited).toHaveLength(1);
    expect(refused).toEqual(Array(49).fill('GIFT_CARD_USED_UP'));
    const card2 = await stack.graphql<{ giftCard: { redemptionCount: number; status: string } }>(
      'query ($id: ID!) { giftCard(id: $id) { redemptionCount status } }',
      {
        token: admin.token,
        variables: { id: card.id },
      },
    );
    expect(card2.data?.giftCard).toEqual({ redemptionCount: 1, status: 'USED_UP' });
    const balances = await Promise.all(
      users.map((user) =>
        stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', { token: user.token }),
      ),
    );
    expect(balances.map((result) => Number(result.data?.me.wallet.balance.amount)).reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it('credits exactly once when one user sends the same code 50 times at once', async () => {
    const card = await issueCard('2500');
    const user = await stack.signUp();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => stack.graphql<ActivationData>(ACTIVATE, { token: user.token, variables: { code: card.code } })),
    );
    expect(results.filter((result) => result.data?.activateGiftCard.redemption.status === 'CREDITED')).toHaveLength(1);
    expect(results.filter((result) => result.errors?.[0]?.extensions?.code === 'GIFT_CARD_ALREADY_REDEEMED')).toHaveLength(49);
    const balance = await stack.graphql<{ me: { wallet: { balance: { amount: string }; transactions: { edges: unknown[] } } } }>(
      '{ me { wallet { balance { amount } transactions { edges { cursor } } } } }',
      { token: user.token },
    );
    expect(balance.data?.me.wallet.balance.amount).toBe('2500');
    expect(balance.data?.me.wallet.transactions.edges).toHaveLength(1);
  });
});

describe('connections', () => {
  it('refuses `first` outside 1 to 100 and a cursor this API did not issue with BAD_USER_INPUT', async () => {
    const user = await stack.signUp();
    const forged = Buffer.from(JSON.stringify(['not-a-number'])).toString('base64url');
    for (const args of ['first: 0', 'first: 101', 'after: "garbage"', `after: "${forged}"`]) {
      const history = await stack.graphql(`{ me { wallet { transactions(${args}) { edges { cursor } } } } }`, { token: user.token });
      expect(history.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const cards = await stack.graphql(`{ giftCards(${args}) { edges { cursor } } }`, { token: admin.token });
      expect(cards.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });
});

describe('who may do what', () => {
  it('refuses an anonymous activation with UNAUTHENTICATED', async () => {
    const result = await stack.graphql(ACTIVATE, { variables: { code: 'ABCDEF' } });
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses issuing and listing cards to a non-admin with FORBIDDEN and to an anonymous caller with UNAUTHENTICATED', async () => {
    const user = await stack.signUp();
    const input = { value: { amount: '1', currencyCode: 'IRR' } };
    const asUser = await stack.graphql(ISSUE, { token: user.token, variables: { input } });
    expect(asUser.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const anonymous = await stack.graphql(ISSUE, { variables: { input } });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const list = await stack.graphql('{ giftCards { edges { node { id } } } }', { token: user.token });
    expect(list.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const disable = await stack.graphql('mutation { disableGiftCard(id: "00000000-0000-0000-0000-000000000000") { id } }', { token: user.token });
    expect(disable.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('lets an admin page through gift cards newest first, to the end, with nothing twice and nothing missing', async () => {
    // Issued one after another, so each is newer than the one before.
    const issued: string[] = [];
    for (let index = 0; index < 5; index += 1) issued.push((await issueCard('1')).id);
    type Node = { id: string; createdAt: string };
    const listed = await pageToEnd<Node>(2, async (after) => {
      const page = await stack.graphql<{ giftCards: Page<Node> }>(
        'query ($after: String) { giftCards(first: 2, after: $after) { edges { cursor node { id createdAt } } pageInfo { hasNextPage endCursor } } }',
        { token: admin.token, variables: { after } },
      );
      expect(page.errors).toBeUndefined();
      return page.data?.giftCards as Page<Node>;
    });
    const ids = listed.map((node) => node.id);
    // Nothing is issued in this file while the test runs: its cards are the newest, newest first.
    expect(ids.slice(0, 5)).toEqual([...issued].reverse());
    expect(new Set(ids).size).toBe(ids.length);
    const times = listed.map((node) => Date.parse(node.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // Nothing missing: the pages together are the whole list read in one go.
    const whole = await stack.graphql<{ giftCards: Page<{ id: string }> }>('{ giftCards(first: 100) { edges { node { id } } pageInfo { hasNextPage } } }', {
      token: admin.token,
    });
    expect(whole.data?.giftCards.pageInfo.hasNextPage).toBe(false);
    expect(whole.data?.giftCards.edges.map((edge) => edge.node.id)).toEqual(ids);
  });

  it("pages through a user's redemptions newest first, to the end, with each of them once", async () => {
    const user = await stack.signUp();
    const redeemed: string[] = [];
    for (let index = 0; index < 5; index += 1) {
      const card = await issueCard(String(100 + index));
      const result = await stack.graphql<ActivationData>(ACTIVATE, { token: user.token, variables: { code: card.code } });
      redeemed.push(result.data?.activateGiftCard.redemption.id as string);
    }
    type Node = { id: string; createdAt: string; amount: { amount: string } };
    const listed = await pageToEnd<Node>(2, async (after) => {
      const page = await stack.graphql<{ me: { giftCardRedemptions: Page<Node> } }>(
        `query ($after: String) { me { giftCardRedemptions(first: 2, after: $after) {
          edges { cursor node { id createdAt amount { amount } } } pageInfo { hasNextPage endCursor } } } }`,
        { token: user.token, variables: { after } },
      );
      expect(page.errors).toBeUndefined();
      return page.data?.me.giftCardRedemptions as Page<Node>;
    });
    expect(listed.map((node) => node.id)).toEqual([...redeemed].reverse());
    expect(listed.map((node) => node.amount.amount)).toEqual(['104', '103', '102', '101', '100']);
    const times = listed.map((node) => Date.parse(node.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });
});
