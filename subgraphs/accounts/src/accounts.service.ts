// Sign-up, log-in and user look-ups: the accounts subgraph's behaviour, independent of GraphQL.

import { InvalidCredentialsError, isUniqueViolation, type Principal, type Role, UsernameTakenError } from '@giftpay/common';
import { type AttemptLimit, type AttemptSubject, createAttemptLimiter } from '@giftpay/common/attempt-limiter';
import { eq, type SQL, sql } from 'drizzle-orm';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type * as schema from './db/schema.ts';
import { type UserRow, users } from './db/schema.ts';
import { checkPassword, checkUsername, usernameKey } from './domain/credentials.ts';
import type { PasswordHasher } from './password-hasher.ts';
import type { TokenSigner } from './token-signer.ts';

export interface AuthResult {
  readonly token: string;
  readonly expiresIn: number;
  readonly user: UserRow;
}

export function principalOf(user: UserRow): Principal {
  return { userId: user.id, username: user.username, roles: user.roles.filter((role): role is Role => role === 'user' || role === 'admin') };
}

export interface AccountsDeps {
  readonly db: PostgresJsDatabase<typeof schema>;
  readonly hasher: PasswordHasher;
  readonly signer: TokenSigner;
  readonly failedLogins: { readonly perUsername: AttemptLimit; readonly perAddress: AttemptLimit };
}

export function createAccountsService(deps: AccountsDeps) {
  const { db, hasher, signer } = deps;
  const limiter = createAttemptLimiter(['accounts', 'attempt_counters']);
  const execute = (query: SQL) => db.execute(query);

  async function issueToken(user: UserRow): Promise<AuthResult> {
    return { token: await signer.sign(principalOf(user)), expiresIn: signer.ttlSeconds, user };
  }

  return {
    async signUp(input: { username: string; password: string }): Promise<AuthResult> {
      const username = checkUsername(input.username);
      const password = checkPassword(input.password);
      const passwordHash = await hasher.hash(password);
      try {
        const [user] = await db
          .insert(users)
          .values({ username, usernameKey: usernameKey(username), passwordHash })
          .returning();
        if (!user) throw new Error('insert returned no row');
        return await issueToken(user);
      } catch (error) {
        if (isUniqueViolation(error, 'users_username_key_unique')) throw new UsernameTakenError(username);
        throw error;
      }
    },

    async logIn(input: { username: string; password: string }, clientAddress: string | null = null): Promise<AuthResult> {
      const key = usernameKey(input.username);
      const perUsername: AttemptSubject = { key: `login:${key}`, limit: deps.failedLogins.perUsername };
      const perAddress: AttemptSubject[] = clientAddress ? [{ key: `address:${clientAddress}`, limit: deps.failedLogins.perAddress }] : [];
      await limiter.check(execute, [perUsername, ...perAddress]);
      // The username's attempt is taken before the password is checked: guesses sent together
      // for one account get no more checks than the limit, the right password among them
      // included. The address's are counted after, as failures only, so many people logging in
      // at once behind one address are never refused for it.
      const attempt = await limiter.reserve(execute, perUsername);
      let wrong = false;
      try {
        const user = await db.query.users.findFirst({ where: eq(users.usernameKey, key) });
        // An unknown user costs the same work and gets the same answer as a wrong password, so usernames cannot be probed.
        const valid = user ? await hasher.verify(user.passwordHash, input.password) : await hasher.verifyDummy(input.password).then(() => false);
        if (!user || !valid) {
          wrong = true;
          throw (await limiter.recordFailure(execute, perAddress)) ?? new InvalidCredentialsError();
        }
        return issueToken(user);
      } finally {
        // Only a wrong password keeps the attempt it took; a success or a failure of ours (the
        // database, the hasher) gives it back, and giving it back never fails the log-in.
        if (!wrong) await attempt.release().catch(() => {});
      }
    },

    findById(id: string): Promise<UserRow | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return Promise.resolve(undefined);
      return db.query.users.findFirst({ where: eq(users.id, id) });
    },

    findByUsername(username: string): Promise<UserRow | undefined> {
      return db.query.users.findFirst({ where: eq(users.usernameKey, usernameKey(username)) });
    },

    /** Makes sure the configured admin exists with the roles user and admin; the password is set only at creation. */
    async ensureAdmin(admin: { username: string; password: string }): Promise<UserRow> {
      const username = checkUsername(admin.username);
      const passwordHash = await hasher.hash(checkPassword(admin.password));
      await db
        .insert(users)
        .values({ username, usernameKey: usernameKey(username), passwordHash, roles: ['user', 'admin'] })
        .onConflictDoUpdate({
          target: users.usernameKey,
          // Adds the roles it lacks, keeping the order the contract shows: user, then admin, then others.
          set: {
            roles: sql`(select array_agg(r order by case r when 'user' then 0 when 'admin' then 1 else 2 end, r)
              from (select distinct unnest(${users.roles} || array['user', 'admin']::text[]) as r) as merged)`,
          },
        });
      const user = await db.query.users.findFirst({ where: eq(users.usernameKey, usernameKey(username)) });
      if (!user) throw new Error('bootstrap admin vanished');
      return user;
    },

    /** Whether any account holds the admin role. */
    async hasAdmin(): Promise<boolean> {
      const rows = await db.select({ id: users.id }).from(users).where(sql`'admin' = any(${users.roles})`).limit(1);
      return rows.length > 0;
    },

    /** Creates an admin of this name and password unless the name is taken; the user when created now, else undefined. */
    async createAdminIfAbsent(admin: { username: string; password: string }): Promise<UserRow | undefined> {
      const username = checkUsername(admin.username);
      const passwordHash = await hasher.hash(checkPassword(admin.password));
      const [created] = await db
        .insert(users)
        .values({ username, usernameKey: usernameKey(username), passwordHash, roles: ['user', 'admin'] })
        .onConflictDoNothing({ target: users.usernameKey })
        .returning();
      return created;
    },
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;
