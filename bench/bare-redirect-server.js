// The /live redirect's ceiling: koa and @koa/router with one route that answers the same 302 (the
// same Location and Cache-Control) with none of Lineup's work: no lookup, no check, no signing.
import Router from '@koa/router';
import Koa from 'koa';

const location = process.argv[2];
const app = new Koa();
const router = new Router();
router.get('/live/:username/:password/:file', (ctx) => {
  ctx.set('Cache-Control', 'no-store');
  ctx.redirect(location);
});
app.use(router.routes());
const server = app.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
