import { createHmac, hash, timingSafeEqual } from 'node:crypto';

/**
 * The token of a `backend` origin: Lineup issues it into stream URLs (`?token=…`) and its auth
 * backend verifies it when the streaming server asks. It names the subscriber, the playlist key it
 * was issued under (a fingerprint: rotating the key retires every token of the old one), the IP it
 * is bound to (a keyed tag, or `n` when the origin binds none) and when it expires; an HMAC-SHA256
 * over all of that, keyed with the origin's secret, makes it unforgeable. The secret's id travels
 * in the token, so that after a rotation the previous secret still verifies the tokens it signed.
 * Verifying needs nothing but the token, the viewer's IP and the secrets: a forgery is refused
 * without reading the database.
 *
 * `KID.SUBSCRIBER.EXPIRES.IPTAG.KEYFP.MAC`, URL-safe, about 70 characters.
 */

/** Whose token it is. */
export interface TokenHolder {
  subscriberId: number;
  /** sha256 of the subscriber's playlist key; absent for one who has none yet. */
  keyHash?: string | undefined;
}

/** What a verified token says. */
export interface VerifiedToken {
  subscriberId: number;
  /** The playlist key it was issued under (keyFingerprint). */
  keyFingerprint: string;
  expires: number;
}

export type TokenRefusal = 'bad_token' | 'forged' | 'expired_token' | 'wrong_ip';

export interface BackendSecrets {
  secret: string;
  previousSecret?: string | undefined;
}

const UNBOUND = 'n';
const TOKEN = /^([\w-]{6})\.(\d{1,15})\.(\d{1,12})\.(n|[\w-]{8})\.([0-9a-f]{8})\.([\w-]{22})$/;
/** Longer than any token this module writes: anything past it is refused before a regex sees it. */
const MAX_TOKEN_LENGTH = 96;
const MAC_LENGTH = 22;

/** The id of a secret as tokens carry it: not the secret, and not enough to guess it. */
const keyIds = new Map<string, string>();
function keyId(secret: string): string {
  let id = keyIds.get(secret);
  if (id === undefined) {
    id = hash('sha256', `lineup-backend-key-id\n${secret}`, 'base64url').slice(0, 6);
    if (keyIds.size > 64) keyIds.clear();
    keyIds.set(secret, id);
  }
  return id;
}

/** A short fingerprint of a playlist key's hash: enough to tell a rotated key, nothing to find the key by. */
export function keyFingerprint(keyHash: string | undefined): string {
  return hash('sha256', `lineup-key\n${keyHash ?? ''}`, 'hex').slice(0, 8);
}

function mac(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('base64url').slice(0, MAC_LENGTH);
}

function ipTag(secret: string, ip: string): string {
  return createHmac('sha256', secret).update(`ip\n${ip}`).digest('base64url').slice(0, 8);
}

export interface IssueInput {
  holder: TokenHolder;
  /** The viewer's address, or undefined when the origin binds none. */
  ip: string | undefined;
  /** Unix seconds. */
  expires: number;
  secret: string;
}

export function issueBackendToken({ holder, ip, expires, secret }: IssueInput): string {
  const body = `${keyId(secret)}.${holder.subscriberId}.${expires}.${ip === undefined ? UNBOUND : ipTag(secret, ip)}.${keyFingerprint(holder.keyHash)}`;
  return `${body}.${mac(secret, body)}`;
}

function sameText(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}

/** Verifies `token` for a viewer at `ip` at `now` (Unix seconds); never throws. */
export function verifyBackendToken(token: string, ip: string, secrets: BackendSecrets, now: number): VerifiedToken | TokenRefusal {
  if (token.length > MAX_TOKEN_LENGTH) return 'bad_token';
  const match = TOKEN.exec(token);
  if (!match) return 'bad_token';
  const [, kid, subscriber, expires, tag, fingerprint, presented] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const secret =
    kid === keyId(secrets.secret)
      ? secrets.secret
      : secrets.previousSecret !== undefined && kid === keyId(secrets.previousSecret)
        ? secrets.previousSecret
        : undefined;
  if (secret === undefined) return 'forged';
  if (!sameText(mac(secret, token.slice(0, token.length - MAC_LENGTH - 1)), presented)) return 'forged';
  if (now >= Number(expires)) return 'expired_token';
  if (tag !== UNBOUND && !sameText(ipTag(secret, ip), tag)) return 'wrong_ip';
  return { subscriberId: Number(subscriber), keyFingerprint: fingerprint, expires: Number(expires) };
}
