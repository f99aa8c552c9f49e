// The ceiling: plain node:http answering pre-rendered playlist bytes, with the same headers.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const body = readFileSync(process.argv[2]);
const server = createServer((_request, response) => {
  response.writeHead(200, {
    'Content-Type': 'audio/x-mpegurl; charset=utf-8',
    'Cache-Control': 'no-store, private',
    'Content-Length': body.length,
  });
  response.end(body);
});
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
