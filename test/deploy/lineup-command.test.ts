import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { lineupCommand } from '../../src/cli/self.js';
import { LINEUP_BIN } from '../build-once.js';
import { serveCommandLine } from '../helpers/command-line.js';
import { tempDir } from '../helpers/lineup.js';

const ROOT = join(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const packageJson = JSON.parse(read('package.json')) as { bin: Record<string, string>; scripts: Record<string, string> };
const dockerfile = read('Dockerfile');
const [buildStage = '', runtimeStage = ''] = dockerfile.split(/^FROM /m).slice(1);

const temp = tempDir('lineup-command-');
afterAll(() => temp.cleanup());
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

const builtAt = () => statSync(join(ROOT, 'dist/cli/main.js')).mtimeMs;

describe('npx lineup in a checkout', () => {
  it('when `npx lineup` runs from a subdirectory with an empty npm cache, then it runs this checkout and builds nothing', () => {
    const before = builtAt();
    const cache = join(temp.dir, 'npm-cache');
    // --offline: the checkout is all it may use; an unrelated registry package would fail here.
    const run = spawnSync('npx', ['--offline', 'lineup', '--help'], {
      cwd: join(ROOT, 'src', 'cli'),
      env: { ...process.env, npm_config_cache: cache, npm_config_update_notifier: 'false' },
      encoding: 'utf8',
    });
    expect(run.stderr).not.toMatch(/tsc|npm run build/);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('usage: lineup [--env-file PATH] COMMAND');
    expect(builtAt()).toBe(before);
  });

  it('when npm runs prepare for npx, then it builds nothing; for npm install, then it builds', () => {
    // A stand-in for npm's own script (npm_execpath) that records what prepare asked of it.
    const asked = join(temp.dir, 'asked.txt');
    const fakeNpm = join(temp.dir, 'fake-npm.js');
    writeFileSync(fakeNpm, `require('node:fs').appendFileSync(${JSON.stringify(asked)}, process.argv.slice(2).join(' ') + '\\n');`);
    const prepare = (command: string) =>
      spawnSync(process.execPath, [join(ROOT, 'scripts/prepare.js')], {
        cwd: ROOT,
        env: { ...process.env, npm_command: command, npm_execpath: fakeNpm },
        encoding: 'utf8',
      });
    expect(packageJson.scripts.prepare).toBe('node scripts/prepare.js');
    expect(prepare('exec').status).toBe(0);
    expect(() => readFileSync(asked, 'utf8')).toThrow();
    expect(prepare('install').status).toBe(0);
    expect(readFileSync(asked, 'utf8')).toBe('run build\n');
  });
});

describe('lineup on PATH, as in the image', () => {
  const pathDir = join(temp.dir, 'usr-local-bin');
  mkdirSync(pathDir, { recursive: true });
  symlinkSync(LINEUP_BIN, join(pathDir, 'lineup'));
  /** The command as a shell finds it on PATH. */
  const ON_PATH = 'lineup';
  const withLineup = { ...process.env, PATH: `${pathDir}${delimiter}${process.env.PATH}` };

  it('when `lineup` is a link on PATH to bin/lineup.js, then it runs from any directory', () => {
    const run = spawnSync(ON_PATH, ['--help'], { cwd: temp.dir, env: withLineup, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('usage: lineup');
  });

  it('when a message names a lineup command, then it is `lineup` where that is on PATH, and `npx lineup` in a checkout', () => {
    const missing = { LINEUP_DB: join(temp.dir, 'none', 'lineup.db') };
    const onPath = spawnSync(ON_PATH, ['subscriber', 'list'], { cwd: temp.dir, env: { ...withLineup, ...missing }, encoding: 'utf8' });
    expect(onPath.status).toBe(1);
    expect(onPath.stderr).toContain('`lineup init`');
    const inCheckout = spawnSync(process.execPath, [LINEUP_BIN, 'subscriber', 'list'], {
      cwd: ROOT,
      env: { ...process.env, ...missing },
      encoding: 'utf8',
    });
    expect(inCheckout.stderr).toContain('`npx lineup init`');
    // npm's own .bin, on PATH only while npm runs a script, does not count.
    const npmBin = join(temp.dir, 'node_modules', '.bin');
    mkdirSync(npmBin, { recursive: true });
    symlinkSync(LINEUP_BIN, join(npmBin, 'lineup'));
    expect(lineupCommand({ PATH: npmBin })).toBe('npx lineup');
    expect(lineupCommand({ PATH: pathDir })).toBe('lineup');
  });

  it('when the image is built, then its runtime links lineup onto PATH and keeps none of the npm scripts that build', () => {
    expect(packageJson.bin.lineup).toBe('bin/lineup.js');
    expect(runtimeStage).toMatch(/^RUN ln -s \/app\/bin\/lineup\.js \/usr\/local\/bin\/lineup$/m);
    expect(runtimeStage.indexOf('COPY bin ./bin')).toBeLessThan(runtimeStage.indexOf('ln -s /app/bin/lineup.js'));
    expect(runtimeStage.indexOf('ln -s /app/bin/lineup.js')).toBeLessThan(runtimeStage.indexOf('USER '));
    expect(buildStage).toMatch(/npm prune --omit=dev && npm pkg delete scripts$/m);
    expect(statSync(LINEUP_BIN).mode & 0o111).not.toBe(0);
    expect(read('bin/lineup.js').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});

describe('the demo, only for demos', () => {
  const count = (dbPath: string, table: string) => {
    const db = new Database(dbPath, { readonly: true });
    try {
      return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    } finally {
      db.close();
    }
  };
  const serveEnv = (name: string) => ({
    LINEUP_DB: join(temp.dir, `${name}.db`),
    HOST: '127.0.0.1',
    PORT: '0',
    SECURETOKEN_KEY: 'k',
    PRUNE_CRON: 'off',
  });

  it("when the image's command starts on an empty database, then it seeds no demo channel or subscriber and prints no demo URL", async () => {
    const command = JSON.parse(/^CMD (\[.*\])$/m.exec(runtimeStage)![1]!) as string[];
    expect(command).toEqual(['node', 'bin/lineup.js', 'serve']);
    const env = serveEnv('docker');
    const served = await serveCommandLine(command, env, children);
    served.child.kill('SIGTERM');
    expect((await served.exited).code).toBe(0);
    expect(served.output()).not.toContain('Demo subscriber');
    expect(count(env.LINEUP_DB, 'channels')).toBe(0);
    expect(count(env.LINEUP_DB, 'subscribers')).toBe(0);
  });

  it('when `npm start` starts on an empty database, then it seeds the demo and prints its URL with a command that works in the checkout', async () => {
    expect(packageJson.scripts.start).toBe('node bin/lineup.js serve --demo');
    const env = serveEnv('npm-start');
    const served = await serveCommandLine(packageJson.scripts.start!.split(' '), env, children);
    served.child.kill('SIGTERM');
    expect((await served.exited).code).toBe(0);
    expect(served.output()).toMatch(/rotate with `npx lineup subscriber rotate demo`\):\nhttp:\/\/localhost:0\/playlist\/[\w-]+\.m3u\n/);
    expect(count(env.LINEUP_DB, 'channels')).toBe(4);
    expect(count(env.LINEUP_DB, 'subscribers')).toBe(1);
  });
});
