// One autocannon run against a server in a child process, measured by the server's own CPU time
// (/proc/PID/stat) per response: what the fleet and PostgreSQL plans compare on a shared machine.
import autocannon from 'autocannon';
import { cpuSeconds } from './http.js';
import { round } from './stats.js';

/**
 * `pathOf(i)` for the i-th request. Returns responses and their rate, status classes, p99, and
 * the server's CPU per response in microseconds, user and kernel.
 */
export async function cpuRun(server, pathOf, { seconds, connections, headers = {} }) {
  let next = 0;
  const before = cpuSeconds(server.pid);
  const result = await autocannon({
    url: server.url,
    connections,
    duration: seconds,
    headers,
    requests: [{ setupRequest: (request) => ({ ...request, path: pathOf(next++) }) }],
  });
  const after = cpuSeconds(server.pid);
  const responses = result.requests.total;
  if (responses === 0)
    throw new Error(`bench: no responses from ${server.url}${pathOf(0)} (errors ${result.errors}, timeouts ${result.timeouts})`);
  const perRequest = (seconds) => round((seconds * 1e6) / responses, 1);
  return {
    responses,
    reqPerSec: Math.round(responses / seconds),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    p99Ms: result.latency.p99,
    cpuUs: perRequest(after.user + after.system - before.user - before.system),
    userUs: perRequest(after.user - before.user),
    systemUs: perRequest(after.system - before.system),
  };
}

/** The round whose CPU per request is the median; noise only adds CPU time, so rounds are kept side by side. */
export function medianRound(results) {
  const sorted = [...results].sort((a, b) => a.cpuUs - b.cpuUs);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}
