// Development secrets: generated once and kept under DATA_DIR, so `pnpm start` needs no
// set-up and keeps the same keys across restarts. Production reads them from the
// environment instead (each service's config refuses to start without them).

import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function loadOrCreateDevSecret(dataDir: string, name: string, create: () => string): string {
  const dir = join(dataDir, 'secrets');
  const path = join(dir, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Written aside and linked into place: link is atomic and fails when another service
  // won the race, so every service ends up reading the same, complete secret.
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, create(), { mode: 0o600 });
  try {
    linkSync(draft, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(draft);
  }
  return readFileSync(path, 'utf8').trim();
}
