import type { AuthBackend } from '../auth/auth-backend.js';
import type { SessionEndReason, SessionRecord } from '../auth/session-limiter.js';
import type { Awaitable } from '../awaitable.js';
import { type Logger, loggableUrl } from '../logger.js';
import type { ChangedSubscribers } from '../subscribers/remembered-access.js';
import type { Clock } from '../time.js';

/** FLUSSONIC_API_URL (credentials in it are Basic auth) and FLUSSONIC_API_TOKEN (Bearer). */
interface FlussonicApiSettings {
  url: string;
  token?: string | undefined;
}

/** The sessions the sweep reads and ends: db/session-store.ts, or db/pg/session-store.ts shared by every node. */
interface RevocableSessions {
  /** Sessions that count now: open, and seen after `since`. */
  active(since: number): Awaitable<SessionRecord[]>;
  /** Those of the given subscribers only: where it is there, a change notified for a few reads only theirs. */
  activeOf?(since: number, subscriberIds: readonly number[]): Awaitable<SessionRecord[]>;
  /** Ends those of `ids` still open; returns the ids this call ended (another node may have ended the others). */
  end(ids: readonly number[], reason: SessionEndReason, at: number): Awaitable<readonly number[]>;
  forget(before: number): Awaitable<number>;
}

export interface RevocationSweepOptions {
  backend: AuthBackend;
  sessions: RevocableSessions;
  /**
   * On PostgreSQL, the change feed's subscriber changes (there a subscriber's change does not move
   * the backend's generation): the sessions of the subscribers notified are looked at, and
   * everyone's after "forget everyone" (the feed down or reconnected).
   */
  subscriberChanges?: ChangedSubscribers;
  clock: Clock;
  logger: Logger;
  /** SESSION_IDLE: sessions silent longer are over already. */
  idleSeconds: number;
  flussonicApi?: FlussonicApiSettings | undefined;
}

/** How often the sweep looks; a database change is acted on within this. */
const SWEEP_MS = 2000;
/** Even with no database change, subscriptions lapse by the clock: a full look at least this often. */
const FULL_SWEEP_SECONDS = 30;
/** Sessions are kept a day (for `subscriber show`) and a day more, then deleted. */
const KEEP_SESSIONS_SECONDS = 2 * 86_400;
const API_TIMEOUT_MS = 5000;

export interface RevocationSweep {
  /** One look now: ends the open sessions that would be refused, closing Flussonic's through its API. @internal */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Instant revocation. A streaming server asks again only after X-AuthDuration; when the operator
 * disables, lets lapse, takes a package from or rotates the key of a subscriber, this ends that
 * subscriber's open sessions at once (so they stop counting and `lineup sessions` drops them), and
 * where FLUSSONIC_API_URL is set closes Flussonic's sessions through its API
 * (`DELETE /streamer/api/v3/sessions/ID`). One process per database runs it (housekeeping); on
 * PostgreSQL every node does, and a session is ended (and Flussonic asked) by the one node whose
 * end took it.
 */
export function startRevocationSweep(options: RevocationSweepOptions): RevocationSweep {
  const { backend, sessions, subscriberChanges, clock, logger, idleSeconds, flussonicApi } = options;
  const api = flussonicApi && flussonicClient(flussonicApi, logger);
  let lastGeneration: number | undefined;
  let lastFull = Number.NEGATIVE_INFINITY;
  let lastForget = Number.NEGATIVE_INFINITY;
  let running: Promise<number> | undefined;

  const sweepOnce = async (): Promise<number> => {
    const now = clock();
    const generation = await backend.databaseGeneration();
    const notified = subscriberChanges?.changed();
    const everyone =
      generation !== lastGeneration || now - lastFull >= FULL_SWEEP_SECONDS || (subscriberChanges !== undefined && notified === undefined);
    lastGeneration = generation;
    let open: SessionRecord[];
    if (everyone) {
      lastFull = now;
      open = await sessions.active(now - idleSeconds);
    } else if (notified !== undefined && notified.length > 0) {
      open = await (sessions.activeOf ? sessions.activeOf(now - idleSeconds, notified) : sessions.active(now - idleSeconds));
    } else return 0;
    const revoked: { session: SessionRecord; reason: string }[] = [];
    for (const session of open) {
      const reason = await backend.revocationOf(session, now);
      if (reason) revoked.push({ session, reason });
    }
    if (now - lastForget >= 3600) {
      await sessions.forget(now - KEEP_SESSIONS_SECONDS);
      lastForget = now;
    }
    if (revoked.length === 0) return 0;
    // Only those this call ended: where nodes share the sessions, another's sweep may have ended some.
    const ended = new Set(
      await sessions.end(
        revoked.map(({ session }) => session.id),
        'revoked',
        now,
      ),
    );
    const ours = revoked.filter(({ session }) => ended.has(session.id));
    for (const { session, reason } of ours)
      logger.info({ subscriber: session.subscriberId, reason, dialect: session.dialect }, 'session revoked');
    if (api) await Promise.all(ours.filter(({ session }) => session.dialect === 'flussonic').map(({ session }) => api.close(session.key)));
    return ours.length;
  };

  const sweep = () =>
    (running ??= sweepOnce()
      .catch((error: unknown) => {
        logger.warn(
          { code: (error as { code?: string }).code },
          `revocation sweep failed, tried again shortly: ${(error as Error).message}`,
        );
        return 0;
      })
      .finally(() => {
        running = undefined;
      }));
  const timer = setInterval(() => void sweep(), SWEEP_MS);
  timer.unref();
  return {
    sweep,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}

/** Flussonic's streamer API, as far as closing a session goes. Credentials are never logged. */
function flussonicClient({ url, token }: FlussonicApiSettings, logger: Logger) {
  const base = new URL(url);
  const basic =
    base.username === ''
      ? undefined
      : Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString('base64');
  base.username = '';
  base.password = '';
  const root = base.toString().replace(/\/+$/, '');
  const authorization = token !== undefined ? `Bearer ${token}` : basic !== undefined ? `Basic ${basic}` : undefined;
  return {
    close: async (sessionId: string): Promise<void> => {
      try {
        const response = await fetch(`${root}/streamer/api/v3/sessions/${encodeURIComponent(sessionId)}`, {
          method: 'DELETE',
          headers: authorization === undefined ? {} : { Authorization: authorization },
          signal: AbortSignal.timeout(API_TIMEOUT_MS),
        });
        await response.body?.cancel();
        // 404: the session ended by itself meanwhile.
        if (!response.ok && response.status !== 404) {
          logger.warn({ status: response.status, api: loggableUrl(url) }, 'Flussonic API refused to close a revoked session');
        }
      } catch (error) {
        logger.warn({ api: loggableUrl(url) }, `Flussonic API unreachable to close a revoked session: ${(error as Error).message}`);
      }
    },
  };
}
