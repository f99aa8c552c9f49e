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

/** POSIX keeps a pipe write of up to this many bytes in one piece, whoever else writes to the pipe. */
const PIPE_BUF = 4096;
const MAX_WAITING_BYTES = 8 * 1024 * 1024;

/**
 * The server's stdout, written without blocking the event loop: while one write is under way, the
 * lines that follow gather for the next, so a busy server makes one system call for many requests
 * instead of one each. Every write is whole lines of at most PIPE_BUF bytes, so that WORKERS
 * sharing a pipe never interleave inside a line. If stdout stops taking lines, those past 8 MB
 * are dropped rather than held in memory or waited for; pino writes what is left at exit.
 */
export function serverLogDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: false, maxWrite: PIPE_BUF, maxLength: MAX_WAITING_BYTES });
}
