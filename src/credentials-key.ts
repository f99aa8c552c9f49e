import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SettingsStore } from './db/settings-store.js';
import { ConfigError } from './errors.js';
import { CredentialSeal } from './subscribers/credentials.js';

/** Identifies the key the database's credentials were sealed with (an HMAC, not the key). */
const KEY_CHECK_SETTING = 'credentials_key_check';
const KEY_HEX = /^[0-9a-f]{64}$/;

function readKey(path: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`CREDENTIALS_KEY_FILE: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (!KEY_HEX.test(text)) throw new ConfigError(`CREDENTIALS_KEY_FILE: ${path} does not hold 64 hex digits`);
  return Buffer.from(text, 'hex');
}

/** A new key, written only if no other process wrote one first (exclusive create); returns the one on disk. */
function createKey(path: string): Buffer {
  mkdirSync(dirname(path), { recursive: true });
  try {
    writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ConfigError(`CREDENTIALS_KEY_FILE: cannot create ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return readKey(path)!;
}

/**
 * The server secret that seals XC passwords and playlist keys, from CREDENTIALS_KEY_FILE, outside
 * the database. Created on first need; refused when the database's credentials were sealed with
 * another key, or when the file is gone while the database still holds credentials sealed with
 * it: a fresh key would silently lock every XC subscriber out.
 */
export function loadCredentialSeal(path: string, settings: Pick<SettingsStore, 'get' | 'getOrCreate'>): CredentialSeal {
  const recorded = settings.get(KEY_CHECK_SETTING);
  const existing = readKey(path);
  if (!existing && recorded !== undefined) {
    throw new ConfigError(
      `CREDENTIALS_KEY_FILE: ${path} is missing, and this database's XC passwords were sealed with the key it held: restore the file (or point CREDENTIALS_KEY_FILE at it)`,
    );
  }
  const seal = new CredentialSeal(existing ?? createKey(path));
  const check = seal.keyCheck();
  if (recorded === undefined) settings.getOrCreate(KEY_CHECK_SETTING, () => check);
  else if (recorded !== check) {
    throw new ConfigError(`CREDENTIALS_KEY_FILE: ${path} holds another key than the one this database's XC passwords were sealed with`);
  }
  return seal;
}
