import Router from '@koa/router';
import { HEALTH_PATH } from '../routes.js';

/** `/healthz`: 200 while the database answers, for load balancers and the container healthcheck. */
export function healthRoutes(databaseAnswers: () => boolean): Router {
  const router = new Router();
  router.get(HEALTH_PATH, (ctx) => {
    const ok = databaseAnswers();
    ctx.set('Cache-Control', 'no-store');
    ctx.status = ok ? 200 : 503;
    ctx.body = { status: ok ? 'ok' : 'unavailable', database: ok ? 'ok' : 'error' };
  });
  return router;
}
