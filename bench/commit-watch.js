// Notes when subscriber changes commit to a database, for bench/prune.js: each of the prune's
// chunks is one commit, and its rows in the change log are what every server reads after it. A
// process of its own, so that polling costs the fleet's client nothing. Takes one message
// { dbPath }; answers the commits' times (ms since the epoch, as performance.timeOrigin +
// performance.now() counts them) when sent 'stop'.
import Database from 'better-sqlite3';

/** How often it looks: a commit is placed within this much of when it happened. */
const POLL_MS = 5;

process.once('message', ({ dbPath }) => {
  const db = new Database(dbPath, { readonly: true });
  // data_version moves when another connection commits anything (a server's address batch, say);
  // only a commit that added change-log rows is one of the prune's.
  const lastSeq = db.prepare('SELECT max(seq) AS seq FROM subscriber_changes');
  let version = db.pragma('data_version', { simple: true });
  let seq = lastSeq.get().seq;
  const commits = [];
  const timer = setInterval(() => {
    const now = db.pragma('data_version', { simple: true });
    if (now === version) return;
    version = now;
    const latest = lastSeq.get().seq;
    if (latest !== seq) commits.push(performance.timeOrigin + performance.now());
    seq = latest;
  }, POLL_MS);
  process.once('message', () => {
    clearInterval(timer);
    db.close();
    process.send(commits, () => process.exit(0));
  });
  process.send('watching');
});
