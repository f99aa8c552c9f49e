import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ProcessResult, runProcess } from './processes.js';

/** Seconds VLC plays each playlist entry before moving on. */
const SECONDS_PER_ENTRY = 3;

/**
 * VLC, headless, opens `playlistUrl` itself and plays each entry in turn, then exits. `cvlc`
 * refuses to run as root, so it runs as nobody (setpriv execs it: the pid is VLC's own), with a
 * home of its own under `workDir`.
 */
export async function playWithVlc(playlistUrl: string, workDir: string): Promise<ProcessResult> {
  const home = join(workDir, 'vlc-home');
  mkdirSync(home, { recursive: true });
  chmodSync(home, 0o777);
  const vlc = ['cvlc', '-I', 'dummy', '--vout', 'dummy', '--aout', 'dummy', '--no-video-title-show'];
  const args = [...vlc, '--play-and-exit', '--run-time', String(SECONDS_PER_ENTRY), playlistUrl];
  const asNobody = process.getuid?.() === 0;
  const [command, ...rest] = asNobody ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', ...args] : args;
  return runProcess(command!, rest, { timeoutMs: 60_000, env: { ...process.env, HOME: home, XDG_RUNTIME_DIR: home } });
}
