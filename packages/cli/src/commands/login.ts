// `giftpay login` and `giftpay logout`: a session kept in the user's config folder.

import { createClient } from '../client.ts';
import { type Command, requestedUrl, stringOption } from '../command.ts';
import { credentialsPath, DEFAULT_URL, readCredentials, removeCredentials, writeCredentials } from '../credentials.ts';
import { UsageError } from '../errors.ts';
import { promptHidden, promptLine, readStdin } from '../terminal.ts';

const LOG_IN = `mutation GiftpayCliLogIn($input: LogInInput!) {
  logIn(input: $input) { token expiresIn user { username roles } }
}`;

interface LogInData {
  logIn: { token: string; expiresIn: number; user: { username: string; roles: string[] } };
}

async function usernameOf(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): Promise<string> {
  const given = stringOption(values, 'username') ?? (env.GIFTPAY_USERNAME?.trim() || undefined);
  if (given) return given;
  if (!process.stdin.isTTY) throw new UsageError('No username: pass --username NAME or set GIFTPAY_USERNAME (stdin is not a terminal to ask on).');
  const typed = await promptLine('Username: ');
  if (!typed) throw new UsageError('No username given.');
  return typed;
}

async function passwordOf(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): Promise<string> {
  if (values['password-stdin'] === true) {
    const piped = await readStdin();
    if (!piped) throw new UsageError('--password-stdin read an empty password.');
    return piped;
  }
  if (env.GIFTPAY_PASSWORD) return env.GIFTPAY_PASSWORD;
  if (!process.stdin.isTTY) throw new UsageError('No password: pipe it with --password-stdin or set GIFTPAY_PASSWORD (stdin is not a terminal to ask on).');
  return promptHidden('Password: ');
}

export const login: Command = {
  words: ['login'],
  summary: 'log in and keep the session for the other commands',
  synopsis: 'login [--username NAME] [--password-stdin] [--url URL]',
  details: `  --username NAME   the account (env GIFTPAY_USERNAME; asked on a terminal otherwise)
  --password-stdin  read the password from stdin (else env GIFTPAY_PASSWORD; asked, hidden, on a terminal)

The token is kept in $XDG_CONFIG_HOME/giftpay/credentials.json (else ~/.config/giftpay/),
readable by you alone, with the gateway's URL; it lasts as long as the API's token does.`,
  options: { username: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
  operands: { min: 0, max: 0, names: '' },
  async run({ values, env }) {
    const url = requestedUrl({ values, env }) ?? readCredentials(env)?.url ?? DEFAULT_URL;
    const username = await usernameOf(values, env);
    const password = await passwordOf(values, env);
    const data = await createClient(url).request<LogInData>(LOG_IN, { input: { username, password } });
    const { token, expiresIn, user } = data.logIn;
    const expiresAt = new Date(Date.now() + expiresIn * 1000).toISOString();
    const path = writeCredentials(env, { url, username: user.username, roles: user.roles, token, expiresAt });
    process.stderr.write(`Logged in to ${url} as ${user.username} (${user.roles.join(', ')}) until ${expiresAt}.\nSession kept in ${path}.\n`);
    if (!user.roles.includes('admin')) {
      process.stderr.write(`warning: ${user.username} is not an admin: issue, cards and promotion will answer FORBIDDEN.\n`);
    }
    return 0;
  },
};

export const logout: Command = {
  words: ['logout'],
  summary: 'forget the saved session',
  synopsis: 'logout',
  details: '',
  options: {},
  operands: { min: 0, max: 0, names: '' },
  async run({ env }) {
    const removed = removeCredentials(env);
    process.stderr.write(removed ? `Logged out: removed ${credentialsPath(env)}.\n` : 'Not logged in.\n');
    return 0;
  },
};
