// Starts `lineup prune` for bench/prune.js, from a process of its own. spawn() blocks the calling
// event loop for 5–10 ms (measured on this machine), and in the bench's process that loop is the
// fleet's client: every response in flight then looked that much slower, as if the server had
// stalled at the prune's start. A cron job starts the prune from outside the clients too.
// Takes one message { command, args, cwd, env }; answers { code, lines, stderr } when it exits.
import { spawn } from 'node:child_process';

process.once('message', ({ command, args, cwd, env }) => {
  const child = spawn(command, args, { cwd, env });
  let lines = 0;
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    for (const byte of chunk) if (byte === 10) lines++;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  child.on('error', (error) => process.send({ code: -1, lines, stderr: String(error) }, () => process.exit(0)));
  child.on('exit', (code) => process.send({ code, lines, stderr }, () => process.exit(0)));
});
