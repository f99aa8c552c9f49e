import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { expectAllTokensValid, parsePlaylist } from '../core/support.js';
import { fetchFrom, lastLine, runCliCaptured, TEST_KEY, tempDir } from '../helpers/lineup.js';
import { serveProcess } from '../helpers/serve-process.js';

const PRELOAD = pathToFileURL(join(import.meta.dirname, '../fixtures/refuse-sha1-kernel.mjs')).href;

const temp = tempDir('lineup-kernel-refused-');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});
afterAll(() => temp.cleanup());

describe('a runtime that refuses the SHA-1 kernel', () => {
  it('when lineup serve runs where WebAssembly refuses the kernel, then a cold playlist is 200 with every token valid', async () => {
    const env = {
      LINEUP_DB: join(temp.dir, 'lineup.db'),
      HOST: '127.0.0.1',
      PORT: '0',
      SECURETOKEN_KEY: TEST_KEY,
      ORIGIN_URL: 'http://origin.test',
      LOG_LEVEL: 'info',
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${PRELOAD}`.trim(),
    };
    const served = await serveProcess(env, children);
    const script = join(temp.dir, 'channels.sql');
    const rows = Array.from({ length: 40 }, (_, i) => `('live/ch${i}', 'Channel ${i}', ${i + 1}, ${i % 3 === 0 ? 7 : 0})`);
    writeFileSync(script, `INSERT INTO channels (stream, name, number, catchup_days) VALUES ${rows.join(', ')};`);
    // The CLI runs in this process, whose WebAssembly is untouched; only the server's refuses.
    expect((await runCliCaptured(['sql', script], env)).code).toBe(0);
    const added = await runCliCaptured(['subscriber', 'add', 'alice', '--days', '30'], env);
    expect(added.code).toBe(0);
    const { pathname } = new URL(lastLine(added.stdout));

    const response = await fetchFrom(`${served.url}${pathname}`);

    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('audio/x-mpegurl; charset=utf-8');
    const entries = expectAllTokensValid(response.body, '127.0.0.1');
    expect(entries.filter((entry) => entry.name.startsWith('Channel '))).toHaveLength(40);
    // The catch-up sources carry the same tokens as their streams.
    const sources = [...response.body.matchAll(/catchup-source="(http:\/\/origin\.test\/live\/[^"]+)"/g)].map((match) => match[1]!);
    expect(sources).toHaveLength(14);
    const tokens = new Set(parsePlaylist(response.body).map((entry) => new URL(entry.url).searchParams.get('token')));
    for (const source of sources) expect(tokens.has(new URL(source).searchParams.get('token'))).toBe(true);
    // The preload did refuse the kernel: this was the fallback signing, not the kernel.
    expect(served.output()).toContain('refuse-sha1-kernel: refused the SHA-1 kernel');
    // And the operator was told at start.
    expect(served.output()).toContain('WebAssembly SIMD is not available here');
    // Request lines are written in batches: the one of this request first, then none of a 500.
    await expect.poll(() => served.output()).toContain('"path":"/playlist/[key]","status":200');
    expect(served.output()).not.toContain('"status":500');
  });
});
