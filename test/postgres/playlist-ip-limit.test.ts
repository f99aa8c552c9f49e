import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { migratePostgresDatabase } from '../../src/db/pg/open.js';
import { type RunningNode, startPostgresNode } from '../../src/postgres-node.js';
import { generatePlaylistKey, hashPlaylistKey } from '../../src/subscribers/keys.js';
import { captureLogs, fetchFrom } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, postgresNodeEnv } from '../helpers/postgres.js';

const REFUSAL =
  'This playlist has been fetched from more places than your subscription allows. Use it on your own devices only, or contact your provider.\n';

describePostgres('PLAYLIST_IP_LIMIT on two Lineup nodes sharing one PostgreSQL database', () => {
  let url: string;
  let admin: pg.Client;
  let nodeA: RunningNode;
  let nodeB: RunningNode;

  /** Adds USERNAME with `max` connections; its playlist path. */
  async function addSubscriber(username: string, max = 1): Promise<string> {
    const key = generatePlaylistKey();
    await admin.query(
      "INSERT INTO subscribers (username, key_hash, expires_at, max_connections) VALUES ($1, $2, '2099-01-01 00:00:00', $3)",
      [username, hashPlaylistKey(key), max],
    );
    return `/playlist/${key}.m3u`;
  }

  const addressesOf = async (username: string) =>
    (
      await admin.query<{ ip: string }>(
        'SELECT p.ip FROM playlist_ips p JOIN subscribers s ON s.id = p.subscriber_id WHERE s.username = $1 ORDER BY p.ip',
        [username],
      )
    ).rows.map((row) => row.ip);

  beforeAll(async () => {
    url = await freshDatabase();
    await migratePostgresDatabase(url);
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query("INSERT INTO channels (stream, name, number) VALUES ('news', 'News', 1)");
    const { logger } = captureLogs();
    const env = postgresNodeEnv(url, { PLAYLIST_IP_LIMIT: '1', TOKEN_BUCKET: '300' });
    [nodeA, nodeB] = await Promise.all([startPostgresNode(loadConfig(env), { logger }), startPostgresNode(loadConfig(env), { logger })]);
  });

  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await admin?.end();
  });

  it('when a one-connection subscription is fetched on node A and then from a second address on node B, then node B refuses it with the reason, and the first address plays on both', async () => {
    const path = await addSubscriber('alice');
    expect((await fetchFrom(nodeA.url + path)).status).toBe(200);
    const refused = await fetchFrom(nodeB.url + path, { localAddress: '127.0.0.2' });
    expect(refused.status).toBe(403);
    expect(refused.body).toBe(REFUSAL);
    expect((await fetchFrom(nodeA.url + path, { localAddress: '127.0.0.2' })).status).toBe(403);
    expect((await fetchFrom(nodeB.url + path)).status).toBe(200);
    expect((await fetchFrom(nodeA.url + path)).status).toBe(200);
    // Counted once, in the shared table, whichever node saw it.
    expect(await addressesOf('alice')).toEqual(['127.0.0.1']);
  });

  it('when two addresses of a one-connection subscription ask the two nodes at the same instant, then exactly one is served, every round', async () => {
    const ROUNDS = 15;
    const served = { A: 0, B: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const path = await addSubscriber(`race${round}`);
      const [a, b] = await Promise.all([
        fetchFrom(nodeA.url + path, { localAddress: '127.0.0.3' }),
        fetchFrom(nodeB.url + path, { localAddress: '127.0.0.4' }),
      ]);
      expect([a.status, b.status].sort(), `round ${round}`).toEqual([200, 403]);
      served[a.status === 200 ? 'A' : 'B']++;
      expect(await addressesOf(`race${round}`), `round ${round}`).toEqual([a.status === 200 ? '127.0.0.3' : '127.0.0.4']);
    }
    console.log(`${ROUNDS} rounds at once: node A served ${served.A}, node B ${served.B}, never both`);
  });
});
