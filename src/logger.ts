import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs. Nothing that carries a secret is ever passed to the logger; the redaction list is a
 * second line of defence for fields that might be added later.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ['key', 'token', 'secret', 'securetokenKey', 'req.headers.authorization', '*.secret', '*.key'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/**
 * The server's stdout, written synchronously. pino's default hands each line to the libuv thread
 * pool, and under load that hand-off cost more than the write itself: in a profile of cached
 * playlists served at full load it took more time than any code of ours.
 */
export function serverLogDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: true });
}
