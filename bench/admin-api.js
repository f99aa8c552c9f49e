// The admin API's plans: subscriber create and renew over HTTP (target: 1,000 a second on one
// core), and a list page of 100 at 100k subscribers (target: p99 20 ms or less). A single server
// process (WORKERS=1); the server's own CPU seconds per request, from /proc, say what one core
// does whatever else the shared machine runs. `node bench/admin-api.js` runs these plans alone;
// `npm run bench` runs them after the others.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createFixture, SECURETOKEN_KEY } from './fixture.js';
import { freePort, loadTest, startLineupServer } from './http.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const TICKS_PER_SECOND = 100;

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

async function apiToken(dbPath) {
  const { stdout } = await run(process.execPath, ['bin/lineup.js', 'api-token', 'add', 'bench'], {
    cwd: root,
    env: { ...process.env, LINEUP_DB: dbPath },
  });
  return stdout.trim().split('\n').at(-1);
}

/** One load run, with the server's CPU over it: requests per CPU second is what one core sustains. */
async function measured(server, url, options) {
  const before = cpuSeconds(server.pid);
  const result = await loadTest(url, { seconds: SECONDS, ...options });
  const cpu = cpuSeconds(server.pid) - before;
  const served = result.reqPerSec * SECONDS;
  return { ...result, perCpuSecond: cpu > 0 ? Math.round(served / cpu) : undefined };
}

export async function benchAdminApi() {
  const rows = [];
  const report = {};
  const fixture = createFixture({ channels: 100, subscribers: 100_000 });
  let server;
  try {
    const adminPort = await freePort();
    server = await startLineupServer({ SECURETOKEN_KEY, LINEUP_DB: fixture.dbPath, ADMIN_PORT: String(adminPort), LOG_LEVEL: 'warn' });
    const api = `http://127.0.0.1:${adminPort}/api/v1`;
    const token = await apiToken(fixture.dbPath);
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const plans = [
      { name: 'create', url: `${api}/subscribers`, method: 'POST', body: '{"username":"new-[<id>]","days":30}', connections: 10 },
      { name: 'renew', url: `${api}/subscribers/user5/renew`, method: 'POST', body: '{"days":1}', connections: 10 },
      { name: 'list100', url: `${api}/subscribers?limit=100&cursor=${Buffer.from('user50000').toString('base64url')}`, connections: 1 },
    ];
    // A fresh process compiles for its first seconds: each plan warms up once.
    for (const plan of plans)
      await loadTest(plan.url, { seconds: 1, connections: plan.connections, headers, method: plan.method, body: plan.body });
    for (const plan of plans) {
      const result = await measured(server, plan.url, { connections: plan.connections, headers, method: plan.method, body: plan.body });
      if (result.non2xx > 0 || result.errors > 0)
        throw new Error(`admin bench ${plan.name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      report[plan.name] = { reqPerSec: Math.round(result.reqPerSec), perCpuSecond: result.perCpuSecond, p99Ms: result.p99Ms };
      rows.push([
        `admin api ${plan.name}${plan.name === 'list100' ? ' (100k subs)' : ''}`,
        `${Math.round(result.reqPerSec)} req/s, p99 ${result.p99Ms} ms`,
        `${result.perCpuSecond} per server CPU second`,
        `${plan.connections} conn`,
      ]);
    }
  } finally {
    await server?.stop();
    fixture.cleanup();
  }
  return { rows, report: { subscribers: 100_000, ...report } };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { rows, report } = await benchAdminApi();
  for (const row of rows) console.log(row.join('  '));
  console.log(JSON.stringify({ node: process.version, runSeconds: SECONDS, adminApi: report }));
}
