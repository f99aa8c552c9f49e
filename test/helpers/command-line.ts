import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ServeProcess } from './serve-process.js';

const ROOT = join(import.meta.dirname, '../..');

/**
 * A serving command line as an operator or a deployment types it (`node bin/lineup.js serve
 * --demo`, `lineup --env-file F serve`), run from the checkout with `env` over this process's.
 * Like `serveProcess`, it resolves once the server logs where it listens, and rejects with its
 * output if it exits first; `children` collects it for the caller to kill. `terminal: true` gives
 * it a process group of its own, as a shell does, so that `process.kill(-pid, 'SIGINT')` is Ctrl-C.
 */
export async function serveCommandLine(
  [program, ...args]: string[],
  env: NodeJS.ProcessEnv,
  children: ChildProcess[],
  { terminal = false }: { terminal?: boolean } = {},
): Promise<ServeProcess> {
  const child = spawn(program === 'node' ? process.execPath : program!, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: terminal,
  });
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
      reject(new Error(`${args.join(' ')} exited before listening:\n${output}`));
    });
  });
  return { child, url, output: () => output, exited };
}
