import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { type RunningLineup, startLineup } from '../../src/standalone.js';
import type { AccessLookup } from '../../src/subscribers/access.js';
import type { Clock } from '../../src/time.js';

/** A temp directory that `cleanup()` removes. */
export function tempDir(prefix = 'lineup-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every log line the service wrote, raw, so that tests can grep them for secrets. */
interface CapturedLogs {
  lines: string[];
  text(): string;
}

export function captureLogs(level = 'info') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logs: CapturedLogs = { lines, text: () => lines.join('\n') };
  return { logger: createLogger(level, stream), logs };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestLineup extends RunningLineup {
  dir: string;
  dbPath: string;
  env: NodeJS.ProcessEnv;
  logs: CapturedLogs;
  /** The service's logger, whose lines land in `logs`: for jobs a test runs by hand. */
  logger: Logger;
  /** Runs a CLI command in-process against the same database (the CLI's own code path). */
  cli(argv: string[]): Promise<CliResult>;
  /** Stops the server and removes the temp directory. */
  close(): Promise<void>;
}

export const TEST_KEY = 'test-securetoken-key';

/**
 * The real service on 127.0.0.1:0 with a fresh SQLite file in a temp dir. No demo seed and no
 * cron schedule unless asked; `env` overrides the environment.
 */
export async function startTestLineup(
  options: { env?: NodeJS.ProcessEnv; clock?: Clock; seedDemo?: boolean; subscriberLookups?: AccessLookup } = {},
): Promise<TestLineup> {
  const { dir, cleanup } = tempDir();
  const dbPath = join(dir, 'lineup.db');
  const env: NodeJS.ProcessEnv = {
    LINEUP_DB: dbPath,
    HOST: '127.0.0.1',
    PORT: '0',
    SECURETOKEN_KEY: TEST_KEY,
    ORIGIN_URL: 'http://origin.test',
    PUBLIC_URL: 'http://lineup.test',
    PRUNE_CRON: 'off',
    ...options.env,
  };
  const { logger, logs } = captureLogs();
  const running = await startLineup(loadConfig(env), {
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    seedDemo: options.seedDemo ?? false,
    ...(options.subscriberLookups ? { subscriberLookups: options.subscriberLookups } : {}),
  });
  return {
    ...running,
    dir,
    dbPath,
    env,
    logs,
    logger,
    cli: (argv) => runCliCaptured(argv, env, options.clock),
    close: async () => {
      await running.stop();
      cleanup();
    },
  };
}

export async function runCliCaptured(argv: string[], env: NodeJS.ProcessEnv, clock?: Clock): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    env,
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    ...(clock ? { clock } : {}),
  });
  return { code, stdout, stderr };
}

/** The last line of a command's stdout: where `subscriber add` and `rotate` print the URL. */
export function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? '';
}

export interface FetchResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A plain HTTP request, optionally from another loopback address (`127.0.0.2`), so that IP
 * binding is tested without network namespaces.
 */
export function fetchFrom(
  url: string,
  options: { localAddress?: string; method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<FetchResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, localAddress: options.localAddress, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface BytesResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The bytes exactly as sent (no inflating), from an optional second loopback address. */
export function fetchBytes(
  url: string,
  { headers = {}, localAddress, method = 'GET' }: { headers?: Record<string, string>; localAddress?: string; method?: string } = {},
): Promise<BytesResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A subscriber's playlist URL rebased onto the test server (PUBLIC_URL is a placeholder). */
export function onServer(lineup: RunningLineup, playlistUrl: string): string {
  const { pathname, search } = new URL(playlistUrl);
  return `${lineup.url}${pathname}${search}`;
}

/** Statements run straight on a test database's file, as an admin's `sqlite3` session would, behind Lineup's back. */
export function execOn(dbPath: string, statements: string): void {
  const db = new Database(dbPath);
  try {
    db.exec(statements);
  } finally {
    db.close();
  }
}
