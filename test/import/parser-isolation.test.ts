import { expect, it } from 'vitest';

it('when the CLI and the server are loaded, then iptv-playlist-parser has not patched String.prototype', async () => {
  await import('../../src/cli/main.js');
  await import('../../src/standalone.js');
  expect('getAttribute' in String.prototype).toBe(false);
  // The import code itself does load it (this is what the check above guards against).
  await import('../../src/import/upstream-m3u.js');
  expect('getAttribute' in String.prototype).toBe(true);
});
