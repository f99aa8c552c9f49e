import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LINEUP_BIN } from '../build-once.js';
import type { CliResult } from './lineup.js';
import type { ServeProcess } from './serve-process.js';

const ROOT = join(import.meta.dirname, '../..');

/**
 * A serving command line as an operator or a deployment types it (`node bin/lineup.js serve
 * --demo`, `lineup --env-file F serve`), run from the checkout (or `cwd`) with `env` over this process's.
 * Like `serveProcess`, it resolves once the server logs where it listens, and rejects with its
 * output if it exits first; `children` collects it for the caller to kill. `terminal: true` gives
 * it a process group of its own, as a shell does, so that `process.kill(-pid, 'SIGINT')` is Ctrl-C.
 */
export async function serveCommandLine(
  [program, ...args]: string[],
  env: NodeJS.ProcessEnv,
  children: ChildProcess[],
  { terminal = false, cwd = ROOT }: { terminal?: boolean; cwd?: string } = {},
): Promise<ServeProcess> {
  const child = spawn(program === 'node' ? process.execPath : program!, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: terminal,
  });
  children.push(child);
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  // Resolved on the very chunk that says where it listens, not on a later poll: a caller that
  // signals at once then finds the server as a supervisor would, the moment it announced itself.
  const url = await new Promise<string>((resolve, reject) => {
    const take = (chunk: Buffer) => {
      output += chunk;
      // The "lineup listening" line: with ADMIN_PORT and WORKERS, the workers' admin listener
      // lines (a url too) come before it, while the primary has no signal handler yet.
      const listening = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*"msg":"lineup listening"/.exec(output);
      if (listening) resolve(listening[1]!);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    child.on('exit', () => reject(new Error(`${args.join(' ')} exited before listening:\n${output}`)));
  });
  return { child, url, output: () => output, exited };
}

/** `node …/bin/lineup.js ARGS` run from `cwd`, as an operator types it in a shell there. */
export function lineupFrom(cwd: string, argv: string[], env: NodeJS.ProcessEnv): CliResult {
  const run = spawnSync(process.execPath, [LINEUP_BIN, ...argv], { cwd, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

/**
 * `node bin/lineup.js ARGS` as its own process, as an operator's (or a node's) shell runs it,
 * without holding this process up: several may run at once.
 */
export function lineupProcess(argv: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LINEUP_BIN, ...argv], { env: { ...process.env, ...env }, ...(cwd ? { cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Every `*.db` file under `dir`, relative to it. */
export function databasesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[]).filter((file) => file.endsWith('.db')).sort();
}
