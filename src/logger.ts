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

/** The message of a request's log line (http/request-log.ts): the one line that may wait in the buffer. */
export const REQUEST_MESSAGE = 'request';

/** Request lines held before one write to stdout: about 20 of them. */
const REQUEST_LINES_CHARACTERS = 4096;
/** The longest a request line waits before it is written. */
const REQUEST_LINES_FLUSH_MS = 100;

/**
 * The server's stdout, written synchronously. pino's default hands each line to the libuv thread
 * pool, and under load that hand-off cost more than the write itself: in a profile of cached
 * playlists served at full load it took more time than any code of ours. Request lines are held
 * and written together, 4 kB at a time or after at most 100 ms (one `write` per line was about a
 * tenth of the server's CPU at a playlist refresh); any other line is written at once, after the
 * request lines before it, and what is held is written when the process exits. A crash that skips
 * exit handlers (SIGKILL, an abort) loses at most the last 100 ms of request lines, at most 4 kB.
 */
export function serverLogDestination(): DestinationStream {
  const stdout = pino.destination({ dest: 1, sync: true });
  let held: string[] = [];
  let heldCharacters = 0;
  const flush = () => {
    if (held.length === 0) return;
    const text = held.join('');
    held = [];
    heldCharacters = 0;
    stdout.write(text);
  };
  setInterval(flush, REQUEST_LINES_FLUSH_MS).unref();
  process.on('exit', flush);
  // With this symbol set, pino tells the destination each line's message before writing it.
  const destination = {
    [pino.symbols.needsMetadataGsym]: true,
    lastMsg: '',
    write(line: string) {
      held.push(line);
      heldCharacters += line.length;
      if (heldCharacters >= REQUEST_LINES_CHARACTERS || destination.lastMsg !== REQUEST_MESSAGE) flush();
    },
  };
  return destination;
}
