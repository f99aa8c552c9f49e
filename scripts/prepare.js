// `npm install`'s prepare step: compiles src/ into dist/, which bin/lineup.js runs.
//
// Skipped when npm runs it for `npx lineup` (npm_command is then `exec`): because package.json
// names a `lineup` bin, npx links this checkout into its own cache and runs prepare on the way,
// which rebuilt dist/ on the first call from each checkout (6–10 s), from whatever src/ held at
// that moment. The link runs the checkout's bin/lineup.js on the dist/ that `npm install` (or
// `npm run build`) made.
import { spawnSync } from 'node:child_process';

if (process.env.npm_command !== 'exec') {
  const npm = process.env.npm_execpath;
  const build = npm ? spawnSync(process.execPath, [npm, 'run', 'build'], { stdio: 'inherit' }) : { status: 1 };
  if (!npm) console.error('prepare: run through npm (npm install, or npm run build)');
  process.exitCode = build.status ?? 1;
}
