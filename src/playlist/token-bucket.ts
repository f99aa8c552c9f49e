import { createHmac, randomBytes } from 'node:crypto';

/**
 * TOKEN_BUCKET: within one bucket of time, the same subscriber at the same address gets the same
 * tokens, so a refresh can be a 304 or cached bytes instead of a fresh signature per channel.
 */
export interface TokenBucketSettings {
  /** Bucket length in seconds; 0 turns bucketing off (a fresh random salt per response). */
  seconds: number;
  /** Server secret keyed into the salt, so that nobody else can predict it. Never logged. */
  secret: string;
}

/** `now` rounded down to the bucket: the moment the tokens are signed for. */
export function bucketStart(now: number, seconds: number): number {
  return seconds > 0 ? now - (now % seconds) : now;
}

/**
 * The salt for one subscriber at one address in one bucket: HMAC-SHA256 over the three, 32 hex
 * characters. Not per stream: every token already hashes its stream, and a second keyed hash per
 * channel would double the one cost a playlist cannot avoid.
 */
export function bucketSalt(secret: string, subscriberId: number, ip: string, start: number): string {
  return createHmac('sha256', secret).update(`${subscriberId}\n${ip}\n${start}`).digest('hex').slice(0, 32);
}

/** With bucketing off, one salt per response: the hash already differs per stream, and the RNG is the costly part. */
export const randomSalt = (): string => randomBytes(16).toString('hex');
