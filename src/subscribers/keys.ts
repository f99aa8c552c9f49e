import { hash, randomBytes } from 'node:crypto';

/** 18 random bytes: 144 bits, 24 URL-safe characters. */
const KEY_BYTES = 18;
const KEY_PATTERN = /^[A-Za-z0-9_-]{24}$/;

/** A new playlist key. It is shown once and stored only as its hash. */
export function generatePlaylistKey(): string {
  return randomBytes(KEY_BYTES).toString('base64url');
}

/**
 * The stored form of a key. Keys carry 144 bits of entropy, so a fast hash is enough: there is
 * nothing to brute-force that a slow hash would protect.
 *
 * Presented keys are never compared with stored ones: their hash is looked up on the UNIQUE index.
 * That is no timing oracle. A guesser chooses the key, not its hash, so how far the B-tree search
 * gets before it misses reveals nothing about any stored key, nor brings the next guess closer.
 */
export function hashPlaylistKey(key: string): string {
  return hash('sha256', key);
}

/** Screens out junk before it costs a database lookup. */
export function isWellFormedKey(candidate: string): boolean {
  return KEY_PATTERN.test(candidate);
}
