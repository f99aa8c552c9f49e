import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A response this large may still sit in the kernel's send queue when node considers it over:
 * below it, a client that never reads holds too little to matter, and its connection closes as
 * node closes it.
 */
const HOLD_BYTES = 64 * 1024;

/** When the last large response on a connection was handed to the kernel; cleared by the next request. */
const handedOverAt = new WeakMap<Socket, number>();
/** What a connection had written when its last request came. */
const writtenBefore = new WeakMap<Socket, number>();

/** Marks the response just handed over if it was large. */
function noteHandedOver(socket: Socket): void {
  if (!handedOverAt.has(socket) && socket.bytesWritten - (writtenBefore.get(socket) ?? 0) >= HOLD_BYTES) {
    handedOverAt.set(socket, performance.now());
  }
}

/**
 * Connections that the server closes while the client may not have read its last response. Node
 * considers a response over once the kernel has taken its last byte, and closes the connection with
 * a FIN (after the keep-alive timeout, after a `Connection: close` response). For a
 * client that never reads, that FIN waits behind the unsent bytes, and the kernel keeps them (an
 * orphan in FIN_WAIT1) for minutes, trying to deliver them: 2 MB per connection for a playlist
 * that fits into the socket buffers. A reset (RST) instead drops them at once, but it would also
 * cut short a slow client that is still taking them. So a connection whose last response was
 * large is closed with a FIN as before but kept, and reset `sendTimeoutMs` after that response was
 * handed over unless the client has closed it by then (a client that reads the whole response of
 * a `Connection: close` answer sees the FIN and closes its end) or asked again. At shutdown node
 * closes the kept connections as it would have (`closeIdleConnections`: a FIN), so that a graceful
 * stop still delivers whole every response it gave.
 */
export function guardUnreadResponses(server: Server, sendTimeoutMs: number): void {
  server.on('connection', (socket: Socket) => {
    // Node ends a `Connection: close` response with destroySoon(): a FIN, and the file descriptor
    // closed once the kernel has the bytes. Only the FIN here; the descriptor stays until the
    // client closes its end or the deadline resets it.
    const destroySoon = socket.destroySoon.bind(socket);
    socket.destroySoon = () => {
      // Node calls this from the response's own 'finish', before any listener of ours.
      noteHandedOver(socket);
      const since = handedOverAt.get(socket);
      if (since === undefined) return destroySoon();
      socket.end();
      const deadline = setTimeout(() => resetIfOpen(socket), Math.max(0, since + sendTimeoutMs - performance.now()));
      deadline.unref();
      socket.once('close', () => clearTimeout(deadline));
    };
  });

  // Before the app's own listener, which may answer at once (the nginx auth fast path).
  server.prependListener('request', (req, res) => {
    const socket = req.socket;
    handedOverAt.delete(socket);
    writtenBefore.set(socket, socket.bytesWritten);
    res.on('finish', noteFinished);
  });
}

/** One listener for every response, rather than a closure and a `once` wrapper per request. */
function noteFinished(this: ServerResponse): void {
  // Node has detached the response from its socket by now; the request keeps it.
  noteHandedOver(this.req.socket);
}

/**
 * What a timed-out connection gets (`server.setTimeout`: inactivity during a request, node's
 * keep-alive timeout between requests). With bytes still queued in node (the kernel's buffers are
 * full: the client stopped reading), a reset, which frees those buffers at once. After a large
 * response, the connection waits for its deadline (`sendTimeoutMs` after that response was handed
 * over) and is then reset, whatever the kernel still holds. Otherwise (an idle or slow request, an
 * idle connection after a small response) a plain close, as node's own.
 */
export function dropTimedOut(socket: Socket, sendTimeoutMs: number): void {
  const since = handedOverAt.get(socket);
  if (socket.writableLength > 0) socket.resetAndDestroy();
  else if (since === undefined) socket.destroy();
  else if (since + sendTimeoutMs > performance.now()) socket.setTimeout(Math.ceil(since + sendTimeoutMs - performance.now()));
  else socket.resetAndDestroy();
}

function resetIfOpen(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}
