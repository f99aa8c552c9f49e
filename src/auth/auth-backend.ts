import { type Awaitable, andThen } from '../awaitable.js';
import { isVisible } from '../playlist/lineup.js';
import type { BackendStream, LineupCache } from '../playlist/lineup-cache.js';
import { type TokenRefusal, type VerifiedToken, verifyBackendToken } from '../signing/backend-token.js';
import type { Origin } from '../signing/origin.js';
import { stateOf } from '../subscribers/access.js';
import type { AuthSubject, RememberedSubjects } from './auth-subjects.js';
import type { SessionLimiter, SessionRecord } from './session-limiter.js';
import type { Decision, DenyReason, StreamCheck } from './stream-check.js';

/** A session id or stream name past this is not one a streaming server sends. */
const MAX_FACT_LENGTH = 256;
/** Tokens remembered as verified, at most; past it the memo starts afresh. */
const MAX_VERIFIED = 50_000;

interface Verified {
  token: VerifiedToken;
  origin: Origin;
}

const deny = (reason: DenyReason, subscriberId?: number): Decision =>
  subscriberId === undefined ? { allow: false, reason } : { allow: false, reason, subscriberId };

/**
 * The one decision behind every dialect of the auth backend: is this viewer, at this IP, allowed
 * this stream now? Allowed when the token is one Lineup issued (unforged, unexpired, for this IP
 * when the origin binds it), under the subscriber's current playlist key; the subscriber is enabled,
 * not lapsed, and entitled to the stream by the package rule as the database says now; and the
 * session fits within `max_connections` (SessionLimiter). Everything but a new session is answered
 * from memory: the lineup and the subscribers as of the last database change, seen through the
 * same per-turn check as the playlists (LineupCache.refresh).
 */
export class AuthBackend {
  /**
   * Tokens that verified, by token and IP, until the lineup changes (a secret rotated, an origin
   * edited): nginx asks for every segment with the same token, and two HMACs are half a decision.
   */
  private readonly verified = new Map<string, Verified>();
  private verifiedGeneration = -1;

  constructor(
    private readonly lineup: LineupCache,
    private readonly subjects: RememberedSubjects,
    private readonly sessions: SessionLimiter,
  ) {}

  /** At once from memory; a promise where PostgreSQL is asked (a subscriber not remembered, a new session). */
  decide(check: StreamCheck, now: number): Awaitable<Decision> {
    const { token, ip } = check;
    if (token === undefined || token === '') return deny('no_token');
    if (ip === undefined) return deny('bad_request');
    const named = check.stream ?? check.path;
    if (named === undefined || named.length > MAX_FACT_LENGTH * 4 || (check.sessionId?.length ?? 0) > MAX_FACT_LENGTH) {
      return deny('bad_request');
    }
    this.lineup.refresh();
    const candidates = check.stream !== undefined ? this.lineup.backendStreamsNamed(check.stream) : this.lineup.backendStreamsAt(named);
    if (candidates.length === 0) return deny('unknown_stream');

    const verified = this.verify(candidates, token, ip, now);
    if (typeof verified === 'string') return deny(verified);
    const { token: holder, origin } = verified;
    return andThen(this.subjects.find(holder.subscriberId), (subject) => {
      if (!subject) return deny('unknown_subscriber');
      const refused = refusalOf(subject, holder.keyFingerprint, now);
      if (refused) return deny(refused, subject.id);
      const entitled = candidates.find((candidate) => candidate.origin === origin && isVisible(candidate.channel, subject.packages));
      if (!entitled) return deny('not_entitled', subject.id);

      const stream = entitled.channel.stream;
      const admission = this.sessions.admit(
        {
          dialect: check.dialect,
          // nginx has no session id: one session per IP and stream, so that zapping is a new one.
          key: check.sessionId ?? `${ip} ${stream}`,
          subscriberId: subject.id,
          ip,
          stream,
          proto: (check.proto ?? '').slice(0, 16),
          keyFingerprint: holder.keyFingerprint,
        },
        subject.maxConnections,
        now,
      );
      return andThen(
        admission,
        (admitted): Decision =>
          admitted === 'ok' ? { allow: true, subscriberId: subject.id, maxSessions: subject.maxConnections } : deny(admitted, subject.id),
      );
    });
  }

  private verify(candidates: readonly BackendStream[], token: string, ip: string, now: number): Verified | TokenRefusal {
    if (this.lineup.generation !== this.verifiedGeneration || this.verified.size >= MAX_VERIFIED) {
      this.verified.clear();
      this.verifiedGeneration = this.lineup.generation;
    }
    const memoKey = `${token}\u0000${ip}`;
    const known = this.verified.get(memoKey);
    if (known && candidates.some((candidate) => candidate.origin === known.origin)) {
      return now < known.token.expires ? known : 'expired_token';
    }
    const result = verifyFor(candidates, token, ip, now);
    if (typeof result !== 'string') this.verified.set(memoKey, result);
    return result;
  }

  /**
   * Moves whenever the database changed (as of a check made now). After the lineup's reload, if
   * one is due (PostgreSQL: the mirror reloads when asked, and the sweep may be all that asks).
   */
  databaseGeneration(): Awaitable<number> {
    return this.lineup.whenCurrent(() => this.lineup.generation);
  }

  /**
   * Why an open session would now be refused, had its server asked again: the subscriber gone,
   * disabled, lapsed, its key rotated, or the stream no longer in its packages. Undefined while it
   * may go on. For closing sessions at once through the streaming server's API.
   */
  revocationOf(session: SessionRecord, now: number): Awaitable<DenyReason | undefined> {
    this.lineup.refresh();
    return andThen(this.subjects.find(session.subscriberId), (subject) => {
      if (!subject) return 'unknown_subscriber';
      const refused = refusalOf(subject, session.keyFingerprint, now);
      if (refused) return refused;
      const candidates = this.lineup.backendStreamsNamed(session.stream);
      return candidates.some((candidate) => isVisible(candidate.channel, subject.packages)) ? undefined : 'not_entitled';
    });
  }
}

function refusalOf(subject: AuthSubject, keyFingerprint: string, now: number): DenyReason | undefined {
  if (subject.keyFingerprint !== keyFingerprint) return 'key_rotated';
  const state = stateOf(subject, now);
  return state === 'active' ? undefined : state;
}

/** The token verified by the first candidate origin that accepts it, or the first origin's refusal. */
function verifyFor(candidates: readonly BackendStream[], token: string, ip: string, now: number): Verified | TokenRefusal {
  let refusal: TokenRefusal | undefined;
  let tried: Origin | undefined;
  for (const { origin } of candidates) {
    if (origin === tried) continue;
    tried = origin;
    const result = verifyBackendToken(token, ip, origin, now);
    if (typeof result !== 'string') return { token: result, origin };
    refusal ??= result;
  }
  return refusal!;
}
