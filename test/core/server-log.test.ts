import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The built logger (test/build-once.ts), as `lineup serve` runs it: its own process, its own stdout. */
const LOGGER = pathToFileURL(resolve(import.meta.dirname, '../../dist/logger.js')).href;

/**
 * Runs `body` in a child process with the server's logger as `logger` and `mark(text)`, which
 * writes a line to stdout straight away; returns what reached stdout, one entry per line: a log
 * line's message and its `i` when it has one, or the marked text.
 */
function stdoutOf(body: string): { lines: string[]; status: number | null } {
  const script = `
    import { writeSync } from 'node:fs';
    import { createLogger, serverLogDestination } from '${LOGGER}';
    const logger = createLogger('info', serverLogDestination());
    const mark = (text) => writeSync(1, text + '\\n');
    ${body}`;
  const { stdout, status } = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  const lines = stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      if (!line.startsWith('{')) return line;
      const { msg, i } = JSON.parse(line) as { msg: string; i?: number };
      return i === undefined ? msg : `${msg} ${i}`;
    });
  return { lines, status };
}

const requests = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => `request ${from + index}`);

describe('the server log on stdout', () => {
  it('when request lines are logged and the process exits, then each is written once, in order, on exit', () => {
    const { lines, status } = stdoutOf(`
      for (let i = 0; i < 10; i++) logger.info({ i }, 'request');
      mark('before exit');
      process.exit(0);`);
    expect(status).toBe(0);
    // Held until then: the marker, written straight away, comes first.
    expect(lines).toEqual(['before exit', ...requests(0, 10)]);
  });

  it('when any other line follows request lines, then it is written at once, after them', () => {
    const { lines } = stdoutOf(`
      for (let i = 0; i < 3; i++) logger.info({ i }, 'request');
      logger.warn('a warning');
      mark('after the warning');
      logger.info({ i: 3 }, 'request');
      logger.info('stopped');
      mark('after stopped');
      process.exit(0);`);
    expect(lines).toEqual([...requests(0, 3), 'a warning', 'after the warning', 'request 3', 'stopped', 'after stopped']);
  });

  it('when request lines wait, then they are written within a tenth of a second, and 4 kB of them at once', () => {
    const { lines } = stdoutOf(`
      logger.info({ i: 0 }, 'request');
      setTimeout(() => {
        mark('a second later');
        for (let i = 1; i < 200; i++) logger.info({ i, path: '/playlist/[key]' }, 'request');
        mark('after 199 more');
        process.exit(0);
      }, 1000);`);
    const marker = lines.indexOf('after 199 more');
    expect(lines.slice(0, 2)).toEqual(['request 0', 'a second later']);
    // 199 lines of about 80 bytes: 4 kB of them were written before the marker, the rest on exit.
    expect(marker).toBeGreaterThan(2);
    expect(marker).toBeLessThan(200);
    expect(lines.filter((line) => line !== 'after 199 more')).toEqual([...requests(0, 1), 'a second later', ...requests(1, 200)]);
  });

  it('when the process dies of an uncaught exception, then the request lines it held are written', () => {
    const { lines, status } = stdoutOf(`
      for (let i = 0; i < 5; i++) logger.info({ i }, 'request');
      setTimeout(() => {
        throw new Error('boom');
      }, 0);`);
    expect(status).toBe(1);
    expect(lines).toEqual(requests(0, 5));
  });
});
