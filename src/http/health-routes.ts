import Router from '@koa/router';
import type { HealthProblem } from '../db/database-health.js';
import { HEALTH_PATH } from '../routes.js';

/**
 * `/healthz`, for load balancers and the container healthcheck: 200 while the database can serve,
 * else 503 naming the check that failed (`file`, `lineup` or `write`) with a short reason.
 */
export function healthRoutes(health: () => HealthProblem | undefined, details?: () => Record<string, string>): Router {
  const router = new Router();
  router.get(HEALTH_PATH, (ctx) => {
    const problem = health();
    ctx.set('Cache-Control', 'no-store');
    ctx.status = problem ? 503 : 200;
    const state = problem ? { status: 'unavailable', database: 'error', ...problem } : { status: 'ok', database: 'ok' };
    ctx.body = details ? { ...state, ...details() } : state;
  });
  return router;
}
