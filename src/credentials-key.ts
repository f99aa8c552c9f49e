import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Awaitable, andThen } from './awaitable.js';
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

/**
 * A new key, unless another process wrote one first; returns the one on disk. Written whole under
 * a name of its own, then linked into place: a link fails if the file exists, so the first key
 * wins, and a process starting beside it never reads a file created but not yet written (which
 * an exclusive create followed by a write let it do).
 */
function createKey(path: string): Buffer {
  const cannotCreate = (code: string | undefined) => new ConfigError(`CREDENTIALS_KEY_FILE: cannot create ${path}: ${code ?? 'error'}`);
  mkdirSync(dirname(path), { recursive: true });
  const draft = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    writeFileSync(draft, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
    linkSync(draft, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotCreate((error as NodeJS.ErrnoException).code);
  } finally {
    rmSync(draft, { force: true });
  }
  const key = readKey(path);
  if (!key) throw cannotCreate('ENOENT');
  return key;
}

/** Where the check of the key is kept: the database's settings, read at once (SQLite)... */
interface SealSettings {
  get(name: string): string | undefined;
  getOrCreate(name: string, create: () => string): { value: string };
}

/** ...or after a round trip (PostgreSQL, before the node serves). */
interface WaitedSealSettings {
  get(name: string): Promise<string | undefined>;
  getOrCreate(name: string, create: () => string): Promise<{ value: string }>;
}

/**
 * The server secret that seals XC passwords and playlist keys, from CREDENTIALS_KEY_FILE, outside
 * the database. Created on first need; refused when the database's credentials were sealed with
 * another key, or when the file is gone while the database still holds credentials sealed with
 * it: a fresh key would silently lock every XC subscriber out. Two processes that start together
 * on a new database with different files: the first check stored wins, and the other is refused.
 */
export function loadCredentialSeal(path: string, settings: SealSettings): CredentialSeal;
export function loadCredentialSeal(path: string, settings: WaitedSealSettings): Promise<CredentialSeal>;
export function loadCredentialSeal(
  path: string,
  settings: {
    get(name: string): Awaitable<string | undefined>;
    getOrCreate(name: string, create: () => string): Awaitable<{ value: string }>;
  },
): Awaitable<CredentialSeal> {
  return andThen(settings.get(KEY_CHECK_SETTING), (recorded) => {
    const existing = readKey(path);
    if (!existing && recorded !== undefined) {
      throw new ConfigError(
        `CREDENTIALS_KEY_FILE: ${path} is missing, and this database's XC passwords were sealed with the key it held: restore the file (or point CREDENTIALS_KEY_FILE at it)`,
      );
    }
    const seal = new CredentialSeal(existing ?? createKey(path));
    const check = seal.keyCheck();
    const stored = recorded === undefined ? settings.getOrCreate(KEY_CHECK_SETTING, () => check) : { value: recorded };
    return andThen(stored, ({ value }) => {
      if (value !== check) {
        throw new ConfigError(`CREDENTIALS_KEY_FILE: ${path} holds another key than the one this database's XC passwords were sealed with`);
      }
      return seal;
    });
  });
}
