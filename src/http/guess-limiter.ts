import { isIP } from 'node:net';
import type { Context, Next } from 'koa';
import { TooManyRequestsError, UnknownKeyError, WrongCredentialsError } from '../errors.js';
import type { LineupMetrics } from '../metrics.js';

export interface GuessLimits {
  /** Failed lookups allowed per address within `windowSeconds`; the next one starts a block. */
  maxFailures: number;
  windowSeconds: number;
  /** How long a blocked address is answered 429. */
  blockSeconds: number;
  /** Addresses remembered at most; the least recently seen are forgotten first. */
  maxTracked: number;
}

interface Entry {
  failures: number;
  windowEndsAt: number;
  blockedUntil: number;
  /** The last failed attempt that said what it tried (XC credentials), and when it was last seen. */
  lastAttempt?: string;
  lastAttemptAt?: number;
}

/**
 * Seconds within which the same failed attempt again is a client's retry, not another guess:
 * pyxtream retries a refused login three times, other apps on every screen they open.
 */
const BURST_SECONDS = 5;

/**
 * The address a guesser is counted under. An IPv6 household or server usually holds a whole /64
 * and can pick any address in it, so IPv6 is counted per /64; IPv4 per address. Expects the
 * normalised form from `normalizeIp` (compressed IPv6, mapped IPv4 already unwrapped). The
 * concurrency limiter counts addresses the same way.
 */
export function guessBucket(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const [head = '', tail] = ip.split('::');
  const headGroups = head ? head.split(':') : [];
  if (tail === undefined || headGroups.length >= 4) return `${headGroups.slice(0, 4).join(':')}::/64`;
  // An embedded IPv4 tail (`64:ff9b::1.2.3.4`) is two groups.
  const tailGroups = tail ? tail.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group])) : [];
  const zeros = Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return `${[...headGroups, ...zeros, ...tailGroups].slice(0, 4).join(':')}::/64`;
}

/**
 * Counts failed key lookups per address and blocks an address that fails too often. Memory is
 * bounded: entries expire with their window or block, and past `maxTracked` the least recently
 * seen address is forgotten (a Map iterates in insertion order; a touched entry is re-inserted).
 */
export class GuessLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly limits: GuessLimits,
    // Monotonic: windows and blocks are durations, so a wall-clock jump (back or forth) neither
    // stretches a block to the size of the jump nor lifts one early.
    private readonly nowSeconds: () => number = () => performance.now() / 1000,
  ) {}

  /** Seconds until `bucket` may try again, or undefined when it is not blocked. */
  retryAfter(bucket: string): number | undefined {
    const entry = this.entries.get(bucket);
    if (!entry) return undefined;
    const left = entry.blockedUntil - this.nowSeconds();
    return left > 0 ? Math.ceil(left) : undefined;
  }

  /**
   * Counts a failure of `bucket`. `attempt` identifies what was tried (a digest): the same attempt
   * again within BURST_SECONDS of the last is a retry, and is not counted again.
   */
  recordFailure(bucket: string, attempt?: string): void {
    const now = this.nowSeconds();
    let entry = this.entries.get(bucket);
    this.entries.delete(bucket);
    if (!entry || (entry.windowEndsAt <= now && entry.blockedUntil <= now)) {
      entry = { failures: 0, windowEndsAt: now + this.limits.windowSeconds, blockedUntil: 0 };
    }
    const retry = attempt !== undefined && entry.lastAttempt === attempt && now - (entry.lastAttemptAt ?? 0) < BURST_SECONDS;
    if (attempt !== undefined) {
      entry.lastAttempt = attempt;
      entry.lastAttemptAt = now;
    }
    if (retry) {
      this.entries.set(bucket, entry);
      return;
    }
    entry.failures += 1;
    if (entry.failures > this.limits.maxFailures) {
      entry.blockedUntil = now + this.limits.blockSeconds;
      entry.failures = 0;
      entry.windowEndsAt = entry.blockedUntil + this.limits.windowSeconds;
    }
    this.entries.set(bucket, entry);
    this.forgetOldest(now);
  }

  get tracked(): number {
    return this.entries.size;
  }

  private forgetOldest(now: number): void {
    for (const [bucket, entry] of this.entries) {
      const expired = entry.windowEndsAt <= now && entry.blockedUntil <= now;
      if (!expired && this.entries.size <= this.limits.maxTracked) return;
      this.entries.delete(bucket);
    }
  }
}

/**
 * What guards one request, in koa's middleware and in the fast path alike. A blocked address is
 * refused before its key or login costs a database lookup; an unknown or malformed key, or a wrong
 * XC login, counts against the address that sent it (a burst of retries of one login counts
 * once). A valid key or login is never counted, and one address's failures never touch another's.
 */
export class GuessGuard {
  constructor(
    private readonly limiter: GuessLimiter,
    private readonly metrics: LineupMetrics,
  ) {}

  /**
   * The bucket `ip` is counted under.
   * @throws TooManyRequestsError (counted) while that bucket is blocked.
   */
  admit(ip: string): string {
    const bucket = guessBucket(ip);
    const retryAfter = this.limiter.retryAfter(bucket);
    if (retryAfter !== undefined) {
      this.metrics.rateLimited.inc();
      throw new TooManyRequestsError('Too many unknown playlist keys or logins from your address. Try again later.', retryAfter);
    }
    return bucket;
  }

  /**
   * Counts `error` against `bucket` when it is a failed lookup. Only the key or login itself
   * counts: a subscriber whose stale playlist asks `/play/KEY/…` for a removed channel gets a plain
   * 404 and is not guessing.
   */
  failed(bucket: string, error: unknown): void {
    if (error instanceof UnknownKeyError) {
      this.metrics.lookupFailures.inc();
      this.limiter.recordFailure(bucket);
    } else if (error instanceof WrongCredentialsError) {
      this.metrics.lookupFailures.inc();
      this.limiter.recordFailure(bucket, error.attempt);
    }
  }
}

/** Guards the keyed paths and the Xtream Codes ones (see GuessGuard). */
export function guessLimit(limiter: GuessLimiter, isKeyedPath: (path: string) => boolean, metrics: LineupMetrics) {
  const guard = new GuessGuard(limiter, metrics);
  return async function limitGuesses(ctx: Context, next: Next): Promise<void> {
    if (!isKeyedPath(ctx.path)) return next();
    const bucket = guard.admit(ctx.state.clientIp as string);
    try {
      await next();
    } catch (error) {
      guard.failed(bucket, error);
      throw error;
    }
  };
}
