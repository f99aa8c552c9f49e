#!/usr/bin/env node
// The `lineup` command: `npx lineup` from any directory of a checkout, `lineup` on the Docker
// image's PATH (a symlink; dist/ is found from this file's real path). It runs the compiled CLI,
// which `npm install` builds (the prepare script) and `npm run build` refreshes.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('lineup: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
const { main } = await import(entry.href);
await main();
