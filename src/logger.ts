import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/** Fields that would hold a secret at the top of a line. */
const SECRET_FIELDS = ['key', 'token', 'secret', 'securetokenKey'];
const CENSOR = '[redacted]';

/**
 * JSON logs. Nothing that carries a secret is ever passed to the logger; the redaction list is a
 * second line of defence for fields that might be added later.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: [...SECRET_FIELDS, 'req.headers.authorization', '*.secret', '*.key'], censor: CENSOR },
    },
    destination,
  );
}

/**
 * A configured URL as it may be logged: without `user:password@`, and with its query (where some
 * origins take a token) replaced by `?[redacted]`. Start-up lines end up in journald, Docker's
 * log driver and support tickets; a credential there is a credential given away.
 */
export function loggableUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL: still drop whatever sits between `//` and an `@`, and any query.
    return url.replace(/\/\/[^/]*@/, '//').replace(/\?.*$/s, '?[redacted]');
  }
  if (parsed.username === '' && parsed.password === '' && parsed.search === '') return url;
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search === '' ? '' : '?[redacted]'}`;
}

/**
 * For lines whose fields are all flat values, such as the request log. The wildcard paths can
 * match nothing in such a line, yet looking for them was a large part of its cost.
 */
export function flatLineLogger(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: SECRET_FIELDS, censor: CENSOR } });
}

/**
 * The server's stdout, written synchronously. pino's default hands each line to the libuv thread
 * pool, and under load that hand-off cost more than the write itself: in a profile of cached
 * playlists served at full load it took more time than any code of ours.
 */
export function serverLogDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: true });
}
