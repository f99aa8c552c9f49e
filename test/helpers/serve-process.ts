import type { ChildProcess } from 'node:child_process';
import { LINEUP_BIN } from '../build-once.js';
import { serveCommandLine } from './command-line.js';

export interface ServeProcess {
  child: ChildProcess;
  /** From the "lineup listening" log line. */
  url: string;
  /** stdout and stderr so far. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `lineup serve` as an operator runs it, in its own process, with `env` over this process's.
 * Resolves once it logs where it listens; rejects with its output if it exits first. The caller
 * kills it (`children` collects every one started, for an afterEach).
 */
export function serveProcess(env: NodeJS.ProcessEnv, children: ChildProcess[]): Promise<ServeProcess> {
  return serveCommandLine(['node', LINEUP_BIN, 'serve'], env, children);
}
