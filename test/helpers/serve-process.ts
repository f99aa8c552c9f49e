import { type ChildProcess, spawn } from 'node:child_process';
import { LINEUP_BIN } from '../build-once.js';

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
export async function serveProcess(env: NodeJS.ProcessEnv, children: ChildProcess[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [LINEUP_BIN, 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const poll = setInterval(() => {
      const listening = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output);
      if (listening) {
        clearInterval(poll);
        resolve(listening[1]!);
      }
    }, 20);
    child.on('exit', () => {
      clearInterval(poll);
      reject(new Error(`serve exited before listening:\n${output}`));
    });
  });
  return { child, url, output: () => output, exited };
}
