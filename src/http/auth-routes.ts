import Router from '@koa/router';
import type { Context } from 'koa';
import type { AuthBackend } from '../auth/auth-backend.js';
import { cesboCheck, flussonicCheck, nginxCheck } from '../auth/dialects.js';
import { DENY_REASONS, type Decision, type DenyReason, type StreamCheck } from '../auth/stream-check.js';
import { type Awaitable, andThen } from '../awaitable.js';
import type { LineupMetrics } from '../metrics.js';
import { AUTH_CESBO_PATH, AUTH_FLUSSONIC_PATH, AUTH_NGINX_PATH } from '../routes.js';
import type { Clock } from '../time.js';

export interface AuthRouteOptions {
  /** AUTH_DURATION: `X-AuthDuration` on Flussonic's allows. */
  authDuration: number;
}

/** The whole HTTP answer to a check, decided before anything is sent. */
export interface AuthAnswer {
  status: 200 | 204 | 401 | 403;
  headers: Record<string, string>;
  body: string;
  subscriberId?: number;
  /** Why it was refused: for the request log and the metrics, never for the client. */
  reason?: DenyReason;
}

/** At once when the decision is (SQLite, or all from memory); a promise when PostgreSQL is asked. */
export type AuthAnswerer = (check: StreamCheck) => Awaitable<AuthAnswer>;

const PLAIN_TEXT = 'text/plain; charset=utf-8';

/**
 * The auth backend's answer to a check, in any dialect (auth/auth-backend.ts decides): an allow is
 * 200 (204 for nginx, whose auth_request wants no body); a refusal is 403, or for nginx without a
 * token 401, with a body that says no more than the status. Counted and timed in the metrics.
 */
export function authAnswerer(backend: AuthBackend, clock: Clock, metrics: LineupMetrics, { authDuration }: AuthRouteOptions): AuthAnswerer {
  const duration = String(authDuration);
  // Every reason from the start at 0, so that a rate over a reason not seen yet is 0, not absent.
  for (const reason of DENY_REASONS) metrics.authDenials.inc({ reason }, 0);
  return (check) => {
    const started = performance.now();
    return andThen(backend.decide(check, clock()), (decision) => answerOf(check, decision, started));
  };
  function answerOf(check: StreamCheck, decision: Decision, started: number): AuthAnswer {
    metrics.authDecisionSeconds.observe((performance.now() - started) / 1000);
    // No Cache-Control: nginx's proxy_cache keeps decisions for the time its configuration says (README).
    if (decision.allow) {
      metrics.authChecks.inc({ dialect: check.dialect, outcome: 'allow' });
      const id = String(decision.subscriberId);
      if (check.dialect === 'nginx') return { status: 204, headers: { 'X-UserId': id }, body: '', subscriberId: decision.subscriberId };
      return {
        status: 200,
        headers: { 'X-AuthDuration': duration, 'X-UserId': id, 'X-Max-Sessions': String(decision.maxSessions) },
        body: '',
        subscriberId: decision.subscriberId,
      };
    }
    metrics.authChecks.inc({ dialect: check.dialect, outcome: 'deny' });
    metrics.authDenials.inc({ reason: decision.reason });
    const unauthorized = check.dialect === 'nginx' && decision.reason === 'no_token';
    return {
      status: unauthorized ? 401 : 403,
      headers: { 'Content-Type': PLAIN_TEXT },
      body: unauthorized ? 'Unauthorized\n' : 'Forbidden\n',
      reason: decision.reason,
      ...(decision.subscriberId === undefined ? {} : { subscriberId: decision.subscriberId }),
    };
  }
}

/**
 * The three dialects as koa routes. nginx's exact path usually takes the fast path in front of koa
 * (auth-fast-path.ts); this route answers the other spellings the same.
 */
export function authRoutes(answerer: AuthAnswerer): Router {
  const router = new Router({ sensitive: true, strict: true });
  const answer = (ctx: Context, check: StreamCheck): Awaitable<void> =>
    andThen(answerer(check), ({ status, headers, body, subscriberId, reason }) => {
      if (subscriberId !== undefined) ctx.state.subscriberId = subscriberId;
      if (reason !== undefined) ctx.state.denyReason = reason;
      ctx.set(headers);
      ctx.status = status;
      if (status !== 204) ctx.body = body;
    });
  router.get(AUTH_NGINX_PATH, (ctx) =>
    answer(
      ctx,
      nginxCheck((name) => ctx.get(name)),
    ),
  );
  router.get(AUTH_FLUSSONIC_PATH, (ctx) => answer(ctx, flussonicCheck(ctx.query)));
  router.get(AUTH_CESBO_PATH, (ctx) =>
    answer(
      ctx,
      cesboCheck((name) => ctx.get(name)),
    ),
  );
  return router;
}
