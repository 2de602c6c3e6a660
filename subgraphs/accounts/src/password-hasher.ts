// Password hashing with argon2id (memory-hard, a fresh random salt per hash, parameters kept
// in the PHC string so they can be raised later without breaking old hashes).

import { hash, verify } from '@node-rs/argon2';

/** `Algorithm.Argon2id` of @node-rs/argon2, a const enum that isolated modules cannot import. */
const ARGON2ID = 2;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Burns the same time as a real verification, for unknown usernames. */
  verifyDummy(password: string): Promise<void>;
}

export interface Argon2Settings {
  readonly memoryKiB: number;
  readonly iterations: number;
}

export async function createPasswordHasher(settings: Argon2Settings): Promise<PasswordHasher> {
  const options = { algorithm: ARGON2ID, memoryCost: settings.memoryKiB, timeCost: settings.iterations, parallelism: 1 };
  const dummyHash = await hash('not a real password, only here to take time', options);
  return {
    hash: (password) => hash(password, options),
    verify: async (stored, password) => {
      try {
        return await verify(stored, password);
      } catch {
        return false;
      }
    },
    verifyDummy: async (password) => {
      await verify(dummyHash, password).catch(() => false);
    },
  };
}
