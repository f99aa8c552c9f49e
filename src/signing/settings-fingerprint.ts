import { scryptSync, timingSafeEqual } from 'node:crypto';
import type { IpBinding } from './origin.js';

/** What the default origin's tokens depend on: two processes with the same settings sign alike. */
export interface SigningSettings {
  originUrl: string;
  key: string;
  /** The key is the one the server generated and kept in the database (SECURETOKEN_KEY unset). */
  generatedKey: boolean;
  ipBinding: IpBinding;
  tokenTtl: number;
  tokenDesync: number;
}

/**
 * SigningSettings in a form that may sit where operators' SQL and backups read: the plain values
 * of the settings that are not secret, and the key only as a salted scrypt, slow enough that a
 * short key typed by hand cannot be found by trying candidates against it.
 */
export interface SigningFingerprint {
  ORIGIN_URL: string;
  IP_BINDING: string;
  TOKEN_TTL: number;
  TOKEN_DESYNC: number;
  /** `scrypt:N:r:p:SALT:HASH` (base64), so that a record outlives a change of the cost. */
  SECURETOKEN_KEY: string;
  /** The server signs with its generated key. */
  generatedKey: boolean;
}

/** Node's default scrypt cost: about 50 ms and 16 MB, once per start and once per signing command. */
const COST = { N: 16384, r: 8, p: 1 };
const HASH_BYTES = 32;

function scryptOf(key: string, salt: Buffer, cost: typeof COST): Buffer {
  return scryptSync(key, salt, HASH_BYTES, { ...cost, maxmem: 256 * cost.N * cost.r });
}

/** The fingerprint of `settings`; `salt` is random, drawn by the caller (16 bytes or more). */
export function fingerprintSigning(settings: SigningSettings, salt: Buffer): SigningFingerprint {
  const hash = scryptOf(settings.key, salt, COST);
  return {
    ORIGIN_URL: settings.originUrl,
    IP_BINDING: settings.ipBinding,
    TOKEN_TTL: settings.tokenTtl,
    TOKEN_DESYNC: settings.tokenDesync,
    SECURETOKEN_KEY: ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), hash.toString('base64')].join(':'),
    generatedKey: settings.generatedKey,
  };
}

function sameKey(record: string, key: string): boolean {
  const [kind, N, r, p, salt, hash] = record.split(':');
  if (kind !== 'scrypt' || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = scryptOf(key, Buffer.from(salt!, 'base64'), { N: Number(N), r: Number(r), p: Number(p) });
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** A variable whose value differs from the one the fingerprint records, and how, without the key. */
export interface SigningDifference {
  variable: 'SECURETOKEN_KEY' | 'ORIGIN_URL' | 'IP_BINDING' | 'TOKEN_TTL' | 'TOKEN_DESYNC';
  /** e.g. `the server's is http://a, here http://b`. */
  detail: string;
}

/**
 * How `settings` would sign differently from the settings `recorded` stands for; empty when alike.
 * Without a key (none set, none generated) the key differs too.
 */
export function signingDifferences(
  recorded: SigningFingerprint,
  settings: Omit<SigningSettings, 'key'> & { key: string | undefined },
): SigningDifference[] {
  const differences: SigningDifference[] = [];
  if (settings.key === undefined || !sameKey(recorded.SECURETOKEN_KEY, settings.key)) {
    const detail = recorded.generatedKey
      ? 'the server signs with the key it generated; leave SECURETOKEN_KEY unset here'
      : settings.key === undefined || settings.generatedKey
        ? "the server's is set in its environment, and it is not set here"
        : "it is not the server's";
    differences.push({ variable: 'SECURETOKEN_KEY', detail });
  }
  const plain = [
    ['ORIGIN_URL', recorded.ORIGIN_URL, settings.originUrl],
    ['IP_BINDING', recorded.IP_BINDING, settings.ipBinding],
    ['TOKEN_TTL', recorded.TOKEN_TTL, settings.tokenTtl],
    ['TOKEN_DESYNC', recorded.TOKEN_DESYNC, settings.tokenDesync],
  ] as const;
  for (const [variable, server, here] of plain) {
    if (server !== here) differences.push({ variable, detail: `the server's is ${server}, here ${here}` });
  }
  return differences;
}

/** A stored fingerprint, or undefined when the text is not one (an older or damaged record). */
export function parseSigningFingerprint(text: string | undefined): SigningFingerprint | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<SigningFingerprint>;
    const complete =
      typeof value.ORIGIN_URL === 'string' &&
      typeof value.IP_BINDING === 'string' &&
      typeof value.TOKEN_TTL === 'number' &&
      typeof value.TOKEN_DESYNC === 'number' &&
      typeof value.SECURETOKEN_KEY === 'string' &&
      typeof value.generatedKey === 'boolean';
    return complete ? (value as SigningFingerprint) : undefined;
  } catch {
    return undefined;
  }
}
