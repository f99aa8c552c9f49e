import Router from '@koa/router';
import type { Context } from 'koa';
import type { AuthBackend } from '../auth/auth-backend.js';
import { cesboCheck, flussonicCheck, nginxCheck } from '../auth/dialects.js';
import { DENY_REASONS, type StreamCheck } from '../auth/stream-check.js';
import type { LineupMetrics } from '../metrics.js';
import { AUTH_CESBO_PATH, AUTH_FLUSSONIC_PATH, AUTH_NGINX_PATH } from '../routes.js';
import type { Clock } from '../time.js';

export interface AuthRouteOptions {
  /** AUTH_DURATION: `X-AuthDuration` on Flussonic's allows. */
  authDuration: number;
}

/**
 * The auth backend's three dialects over one decision (auth/auth-backend.ts). An allow is 200 (204
 * for nginx, whose auth_request wants no body); a refusal is 403, or for nginx without a token 401,
 * with a body that says no more than the status: the reason goes to the request log and the
 * metrics only.
 */
export function authRoutes(backend: AuthBackend, clock: Clock, metrics: LineupMetrics, { authDuration }: AuthRouteOptions): Router {
  const router = new Router({ sensitive: true, strict: true });
  const duration = String(authDuration);
  // Every reason from the start at 0, so that a rate over a reason not seen yet is 0, not absent.
  for (const reason of DENY_REASONS) metrics.authDenials.inc({ reason }, 0);

  const answer = (ctx: Context, check: StreamCheck): void => {
    const started = performance.now();
    const decision = backend.decide(check, clock());
    metrics.authDecisionSeconds.observe((performance.now() - started) / 1000);
    // No Cache-Control: nginx's proxy_cache keeps decisions for the time its configuration says (README).
    if (decision.allow) {
      metrics.authChecks.inc({ dialect: check.dialect, outcome: 'allow' });
      ctx.state.subscriberId = decision.subscriberId;
      const id = String(decision.subscriberId);
      if (check.dialect === 'nginx') {
        ctx.set('X-UserId', id);
        ctx.status = 204;
        return;
      }
      ctx.set('X-AuthDuration', duration);
      ctx.set('X-UserId', id);
      ctx.set('X-Max-Sessions', String(decision.maxSessions));
      ctx.status = 200;
      ctx.body = '';
      return;
    }
    metrics.authChecks.inc({ dialect: check.dialect, outcome: 'deny' });
    metrics.authDenials.inc({ reason: decision.reason });
    ctx.state.denyReason = decision.reason;
    if (decision.subscriberId !== undefined) ctx.state.subscriberId = decision.subscriberId;
    const unauthorized = check.dialect === 'nginx' && decision.reason === 'no_token';
    ctx.status = unauthorized ? 401 : 403;
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = unauthorized ? 'Unauthorized\n' : 'Forbidden\n';
  };

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
