import { connect } from 'node:net';

export interface RawResponse {
  /** 0 when the server closed without an answer. */
  status: number;
  head: string;
  body: string;
}

/**
 * Sends bytes as they are over a plain TCP socket and reads until the server closes. Node's HTTP
 * client refuses to send much of what an attacker would (bad methods, control characters, huge
 * headers), so hostile requests go out this way. Requests should carry `Connection: close`.
 */
export function rawRequest(baseUrl: string, payload: string | Buffer, options: { endAfterWrite?: boolean } = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('connect', () => {
      socket.write(payload);
      if (options.endAfterWrite !== false) socket.end();
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A reset after the answer (the server closing on an unread body) still leaves the answer.
    socket.on('error', (error) => (chunks.length > 0 ? undefined : reject(error)));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split === -1 ? text : text.slice(0, split);
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0), head, body: split === -1 ? '' : text.slice(split + 4) });
    });
  });
}

/** `GET TARGET` with `Connection: close` and any extra header lines. */
export function rawGet(baseUrl: string, target: string, headers: string[] = [], method = 'GET'): Promise<RawResponse> {
  const host = new URL(baseUrl).host;
  return rawRequest(baseUrl, [`${method} ${target} HTTP/1.1`, `Host: ${host}`, 'Connection: close', ...headers, '', ''].join('\r\n'));
}

/** Anything that looks like a stack trace or an internal path. */
export const STACK_TRACE = /\bat .+\(|node_modules|\/src\/|Error:/;
