// The ceiling: plain node:http answering pre-rendered playlist bytes, with the same headers, and the
// same bytes gzipped (argv[3], optional) to a client that asks for gzip. With CEILING_WORKERS=N, N
// processes share the port through node:cluster, as `WORKERS=N` does.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const workers = Number(process.env.CEILING_WORKERS ?? 1);
/** The playlist's type by default; CEILING_TYPE for other bytes (the Xtream Codes JSON lists). */
const contentType = process.env.CEILING_TYPE ?? 'audio/x-mpegurl; charset=utf-8';

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let reported = false;
  cluster.on('listening', (_worker, address) => {
    if (!reported) process.send?.({ port: address.port });
    reported = true;
  });
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else if (process.argv[2] === '--not-modified') {
  // The least an HTTP answer costs: node:http sending an empty 304 with the headers Lineup sends.
  const server = createServer((request, response) => {
    response.writeHead(304, {
      'Cache-Control': 'no-store, private',
      ETag: request.headers['if-none-match'] ?? '"x"',
      Vary: 'Accept-Encoding',
    });
    response.end();
  });
  server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
} else {
  const body = readFileSync(process.argv[2]);
  const gzipped = process.argv[3] ? readFileSync(process.argv[3]) : undefined;
  const server = createServer((request, response) => {
    const gzip = gzipped && /\bgzip\b/.test(request.headers['accept-encoding'] ?? '');
    const bytes = gzip ? gzipped : body;
    response.writeHead(200, {
      'Content-Type': contentType,
      'Cache-Control': 'no-store, private',
      'Content-Length': bytes.length,
      ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    });
    response.end(bytes);
  });
  server.listen(0, '127.0.0.1', () => {
    if (cluster.isPrimary) process.send?.({ port: server.address().port });
  });
}
