// The auth plan's ceiling: a bare koa app whose one route answers 200 with no body, in its own
// process, as the Lineup server runs in its own.
import { createServer } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';

const app = new Koa();
const router = new Router();
router.get('/auth/nginx', (ctx) => {
  ctx.status = 200;
  ctx.body = '';
});
app.use(router.routes());
const server = createServer(app.callback());
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
