// Secrets from files, as Docker and Kubernetes hand them over: for a secret variable X, the
// variable X_FILE may name a file (say /run/secrets/x) whose content is the value. Each
// service's config resolves these first, so everything after reads X as usual.

import { readFileSync } from 'node:fs';
import { ConfigError, type Env } from './config.ts';

/** The secrets every service may read (its own are added by its config). */
export const COMMON_SECRET_VARIABLES = ['METRICS_TOKEN', 'GATEWAY_TOKEN', 'GATEWAY_TOKEN_PREVIOUS'] as const;

function isSet(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

/**
 * Returns the environment with each of `names` read from its `<name>_FILE` file when that is
 * set (a final newline, as editors and `echo` leave, is dropped). Setting both X and X_FILE,
 * or naming a file that cannot be read or is empty, is a ConfigError naming the variable.
 */
export function withSecretFiles(env: Env, names: readonly string[], readFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): Env {
  const resolved: Record<string, string | undefined> = { ...env };
  for (const name of new Set([...COMMON_SECRET_VARIABLES, ...names])) {
    const fileVariable = `${name}_FILE`;
    const path = env[fileVariable];
    if (!isSet(path)) continue;
    if (isSet(env[name])) throw new ConfigError(fileVariable, `and ${name} are both set: set only one of them`);
    let content: string;
    try {
      content = readFile(path.trim());
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new ConfigError(fileVariable, `must name a readable file, got "${path.trim()}" (${reason})`);
    }
    const value = content.replace(/\r?\n$/, '');
    if (value.trim() === '') throw new ConfigError(fileVariable, `must name a file holding the value of ${name}, got the empty file "${path.trim()}"`);
    resolved[name] = value;
  }
  return resolved;
}
