import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * Tests that run the real executable (`node bin/lineup.js …` in a child process, to SIGKILL or
 * SIGTERM it) need dist/ to match src/. One build before any test file runs, so that no two
 * files rebuild dist/ under each other. tsc emits even when it reports a type error (the
 * typecheck step reports those), so only its output is required.
 */
export default function buildOnce(): void {
  spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('build-once: tsc produced no dist/cli/main.js');
}

export const LINEUP_BIN = join(ROOT, 'bin/lineup.js');
