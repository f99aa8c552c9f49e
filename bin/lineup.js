#!/usr/bin/env node
// The compiled CLI; `npm install` builds it (the `prepare` script), `npm run build` refreshes it.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('lineup: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
const { main } = await import(entry.href);
await main();
