import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.js';
import { migratePostgresDatabase } from '../../src/db/pg/open.js';
import type { SyncPostgresClient as Client } from '../../src/db/pg/sync-client.js';
import { SubscriberStore } from '../../src/db/subscriber-store.js';
import type { NewSubscriber } from '../../src/subscribers/subscriber.js';
import type { SubscriberStorage } from '../../src/subscribers/subscriber-storage.js';
import { fromSqlTime } from '../../src/time.js';
import { tempDir } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, queryOn } from '../helpers/postgres.js';

const ROOT = join(import.meta.dirname, '../..');
const NOW = fromSqlTime('2030-06-01 00:00:00');
/** Retired keys are stamped by the database's clock: their retention is judged on the real one. */
const clock = () => Math.floor(Date.now() / 1000);
const PACKAGES = "INSERT INTO packages (name) VALUES ('gold'), ('silver'), ('bronze')";

const hash = (n: number) => n.toString(16).padStart(64, '0');

function subscriber(username: string, n: number, expiresAt: string, packages: string[] = []): NewSubscriber {
  return {
    username,
    key: { hash: hash(n), sealed: `key-${n}` },
    xcPassword: { hash: hash(1000 + n), sealed: `password-${n}` },
    expiresAt,
    packages,
    maxConnections: 1 + (n % 3),
    note: `note ${n}`,
  };
}

/** What a call gave: its value, or its error's class and message (the CLI prints the message). */
function outcome(call: () => unknown): unknown {
  try {
    return { value: call() };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/** createdAt is the database's clock at the insert: the one field the two cannot share. */
function withoutCreatedAt(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, field) => (key === 'createdAt' ? undefined : field));
}

describePostgres('the subscriber store on SQLite and on PostgreSQL', () => {
  let sqlite: SubscriberStorage;
  let postgres: SubscriberStorage;
  let client: Client;
  let cleanup: () => void;
  let closeSqlite: () => void;

  /** `call` on both stores, in turn: the same outcome, which is returned. */
  function both(name: string, call: (store: SubscriberStorage) => unknown): unknown {
    const onSqlite = withoutCreatedAt(outcome(() => call(sqlite)));
    const onPostgres = withoutCreatedAt(outcome(() => call(postgres)));
    expect(onPostgres, name).toEqual(onSqlite);
    return onSqlite;
  }

  beforeAll(async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const db = openDatabase(join(temp.dir, 'lineup.db'));
    db.exec(PACKAGES);
    closeSqlite = () => db.close();
    sqlite = new SubscriberStore(db, { days: 90, clock });
    const url = await freshDatabase();
    await migratePostgresDatabase(url);
    await queryOn(url, PACKAGES);
    // The built modules: the connection's worker thread is a file under dist/.
    const { SyncPostgresClient } = (await import(
      join(ROOT, 'dist/db/pg/sync-client.js')
    )) as typeof import('../../src/db/pg/sync-client.js');
    const { PostgresSubscriberStore } = (await import(
      join(ROOT, 'dist/db/pg/subscriber-store.js')
    )) as typeof import('../../src/db/pg/subscriber-store.js');
    client = SyncPostgresClient.connect(url);
    postgres = new PostgresSubscriberStore(client, { days: 90, clock });
  });

  afterAll(() => {
    client?.close();
    closeSqlite?.();
    cleanup?.();
  });

  it('when the same subscribers are written and read through both, then every method gives the same objects, order and errors', () => {
    both('add', (store) => store.add(subscriber('alice', 1, '2031-01-01 00:00:00', ['gold', 'silver'])));
    both('add', (store) => store.add(subscriber('bob', 2, '2030-06-01 00:00:00', ['bronze'])));
    both('add', (store) => store.add(subscriber('carol', 3, '2029-01-01 00:00:00')));
    both('add', (store) => store.add(subscriber('dave', 4, '2029-02-01 00:00:00', ['gold'])));
    both('add', (store) => store.add(subscriber('Zed', 5, '2031-01-01 00:00:00')));
    both('add', (store) => store.add(subscriber('émile', 6, '2031-01-01 00:00:00')));
    both('add', (store) => store.add(subscriber('adam', 7, '2029-03-01 00:00:00', ['silver'])));
    // The highest id stays: SQLite hands the highest deleted id out again, PostgreSQL's identity never does.
    both('add', (store) => store.add(subscriber('zoe', 8, '2031-01-01 00:00:00')));
    expect(both('a taken username', (store) => store.add(subscriber('alice', 20, '2031-01-01 00:00:00')))).toEqual({
      error: 'ConflictError: subscriber "alice" already exists',
    });
    both('an unknown package', (store) => store.add(subscriber('frank', 9, '2031-01-01 00:00:00', ['platinum'])));

    // Usernames in SQLite's order, byte by byte: Zed before adam, émile last.
    expect((both('list', (store) => store.list()) as { value: { username: string }[] }).value.map((s) => s.username)).toEqual([
      'Zed',
      'adam',
      'alice',
      'bob',
      'carol',
      'dave',
      'zoe',
      'émile',
    ]);
    for (const filter of [
      {},
      { state: 'active' },
      { state: 'expired' },
      { state: 'disabled' },
      { package: 'gold' },
      { usernamePrefix: 'a' },
      { expiresBefore: '2030-01-01 00:00:00' },
    ] as const) {
      both(`page ${JSON.stringify(filter)}`, (store) => store.page(filter, '2030-06-01 00:00:00', undefined, 10));
    }
    both('page after', (store) => store.page({}, '2030-06-01 00:00:00', 'alice', 2));
    both('listLapsedBy on the second', (store) => store.listLapsedBy('2030-06-01 00:00:00'));
    both('countLapsedBy', (store) => store.countLapsedBy('2030-06-01 00:00:00'));
    both('countAll', (store) => store.countAll());
    both('find', (store) => store.find('alice'));
    both('find none', (store) => store.find('nobody'));
    both('get none', (store) => store.get('nobody'));
    both('findAccess', (store) => store.findAccess(hash(1)));
    both('findAccess none', (store) => store.findAccess(hash(99)));
    both('findAccessByUsername', (store) => store.findAccessByUsername('alice'));
    both('findAccessByUsername none', (store) => store.findAccessByUsername('nobody'));
    both('findXcLogin', (store) => store.findXcLogin('alice'));
    both('sealedCredentials', (store) => store.sealedCredentials('bob'));
    both('sealedCredentials none', (store) => store.sealedCredentials('nobody'));

    both('change', (store) => store.change('bob', { enabled: false, maxConnections: 3, note: 'moved', packages: ['gold', 'silver'] }));
    both('change none', (store) => store.change('nobody', { note: 'x' }));
    expect(both('change unknown package', (store) => store.change('bob', { enabled: true, packages: ['platinum'] }))).toEqual({
      error: 'BadInputError: no package named "platinum"',
    });
    both('get after change', (store) => store.get('bob'));
    both('changePackages', (store) => store.changePackages('alice', ['bronze'], ['gold']));
    both('changePackages unknown', (store) => store.changePackages('alice', ['platinum'], []));
    both('setExpiry', (store) => store.setExpiry('alice', '2032-01-01 00:00:00'));
    both('setExpiry none', (store) => store.setExpiry('nobody', '2032-01-01 00:00:00'));
    both('setEnabled', (store) => store.setEnabled('Zed', false));
    both('setKey', (store) => store.setKey('alice', { hash: hash(11), sealed: 'key-11' }));
    expect(both('retiredReason rotated', (store) => store.retiredReason(hash(1)))).toEqual({ value: 'rotated' });
    both('setXcPassword', (store) => store.setXcPassword('alice', { hash: hash(1011), sealed: 'password-11' }));
    both('remove', (store) => store.remove('adam'));
    both('remove none', (store) => store.remove('adam'));
    expect(both('retiredReason removed', (store) => store.retiredReason(hash(7)))).toEqual({ value: 'removed' });
    both('retiredReason unknown', (store) => store.retiredReason(hash(99)));
    both('list', (store) => store.list());

    expect(both('recycleLapsedBy', (store) => store.recycleLapsedBy('2029-06-01 00:00:00', '2030-06-01 00:00:00', 1))).toEqual({
      value: ['carol'],
    });
    both('recycleLapsedBy the rest', (store) => store.recycleLapsedBy('2029-06-01 00:00:00', '2030-06-01 00:00:00', 10));
    both('countPurgeableBy', (store) => store.countPurgeableBy('2030-06-01 00:00:00'));
    expect(NOW).toBeGreaterThan(clock());
    both('restore', (store) => store.restore('dave'));
    both('restore none', (store) => store.restore('dave'));
    both('restore taken', (store) => {
      store.add(subscriber('carol', 12, '2031-01-01 00:00:00'));
      return store.restore('carol');
    });
    both('transaction rolls back', (store) =>
      store.transaction(() => {
        store.setExpiry('carol', '2035-01-01 00:00:00');
        throw new Error('undone');
      }),
    );
    both('get after rollback', (store) => store.get('carol'));
    both('purgePrunedBy', (store) => store.purgePrunedBy('2030-06-01 00:00:00'));
    both('countForgottenRetiredKeys', (store) => store.countForgottenRetiredKeys(clock() + 91 * 86_400));
    expect(both('forgetRetiredKeys', (store) => store.forgetRetiredKeys(clock() + 91 * 86_400))).toMatchObject({
      value: expect.any(Number),
    });
    both('list at the end', (store) => store.list());
  });
});
