import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Xtream Codes passwords, and how credentials are kept: sealed (AES-256-GCM) under a server
 * secret that lives outside the database, so that a copy of the database alone reveals neither a
 * password nor a playlist key, while the operator can still re-send them.
 */

/** No 0/o, 1/l: a password is typed on a TV remote from what the operator read out. 32 letters, 5 bits each. */
const PASSWORD_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
const PASSWORD_LENGTH = 10;

/** What an XC client puts unencoded in paths and queries: the URL-safe set. */
export const PASSWORD_RULE = '4 to 64 letters, digits, ".", "_", "~" or "-"';
const PASSWORD = /^[A-Za-z0-9._~-]{4,64}$/;

/** A new XC password: 10 characters, 50 bits, human-typeable. */
export function generateXcPassword(): string {
  const bytes = randomBytes(PASSWORD_LENGTH);
  let password = '';
  for (const byte of bytes) password += PASSWORD_ALPHABET[byte & 31];
  return password;
}

/** Whether an operator-chosen password fits in an XC URL unencoded. */
export function isValidXcPassword(password: string): boolean {
  return PASSWORD.test(password);
}

const SEAL_VERSION = 'v1';
const IV_BYTES = 12;
const KEY_CHECK_LABEL = 'lineup credentials key check';

/** Seals and opens credentials with the server's credentials key (32 bytes), and hashes passwords for checking. */
export class CredentialSeal {
  private readonly sealKey: Buffer;
  private readonly hashKey: Buffer;

  constructor(key: Buffer) {
    if (key.length < 32) throw new Error('the credentials key must be at least 32 bytes');
    // Two keys from one, so that a hash never doubles as a cipher key.
    this.sealKey = createHmac('sha256', key).update('seal').digest();
    this.hashKey = createHmac('sha256', key).update('password hash').digest();
  }

  /** `v1.IV.CIPHERTEXT.TAG`, base64url: a fresh IV each time. */
  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [SEAL_VERSION, iv, sealed, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  /** The plain text, or undefined when `sealed` was not sealed with this key (or was altered). */
  open(sealed: string): string | undefined {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== SEAL_VERSION || iv === undefined || body === undefined || tag === undefined) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealKey, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }

  /**
   * What is stored to check a password: keyed, since a 50-bit password under a plain hash would
   * fall to a brute force of a copied database.
   */
  passwordHash(password: string): string {
    return createHmac('sha256', this.hashKey).update(password).digest('hex');
  }

  /** Compares a presented password's hash with a stored one in constant time. */
  passwordMatches(password: string, storedHash: string): boolean {
    const presented = Buffer.from(this.passwordHash(password), 'hex');
    const stored = Buffer.from(storedHash, 'hex');
    return stored.length === presented.length && timingSafeEqual(presented, stored);
  }

  /** Identifies the key without revealing it: kept in the database, so that a start with another key is refused. */
  keyCheck(): string {
    return createHmac('sha256', this.hashKey).update(KEY_CHECK_LABEL).digest('hex');
  }
}
