import { request as httpRequest } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LineupStore } from '../../src/db/lineup-store.js';
import { openDatabase } from '../../src/db/open.js';
import { SubscriberChangeStore } from '../../src/db/subscriber-change-store.js';
import { SubscriberStore } from '../../src/db/subscriber-store.js';
import type { Channel } from '../../src/playlist/lineup.js';
import { LineupCache, type LineupSource } from '../../src/playlist/lineup-cache.js';
import { type PlaylistHttpRequest, type PlaylistResponse, PlaylistService } from '../../src/playlist/playlist-service.js';
import { DEFAULT_ORIGIN_NAME, type OriginRow } from '../../src/signing/origin.js';
import { hashPlaylistKey } from '../../src/subscribers/keys.js';
import { type ChangedSubscribers, RememberedAccess, SubscriberChangeFollower } from '../../src/subscribers/remembered-access.js';
import type { SubscriberAccess } from '../../src/subscribers/subscriber.js';
import { addSubscriber } from '../core/support.js';
import { LaterLookups } from '../helpers/later-lookups.js';
import { fetchBytes, startTestLineup, tempDir } from '../helpers/lineup.js';

const NOW = Date.parse('2026-12-03T12:00:00Z') / 1000;
const clock = () => NOW;
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
/** A well-formed playlist key per name: 24 URL-safe characters. */
const keyOf = (name: string) => name.padEnd(24, '_');
const hashOf = (name: string) => hashPlaylistKey(keyOf(name));

/** A database file with alice and bob, read by `own` (the server's connection) and written by `other` (the CLI, another node). */
function twoConnections() {
  const dir = tempDir();
  const path = `${dir.dir}/lineup.db`;
  const own = openDatabase(path);
  const other = openDatabase(path);
  other.exec("INSERT INTO packages (name) VALUES ('basic'); INSERT INTO channels (stream, name, number) VALUES ('news', 'News', 1);");
  const add = other.prepare("INSERT INTO subscribers (username, key_hash, expires_at) VALUES (?, ?, '2027-01-01 00:00:00') RETURNING id");
  for (const name of ['alice', 'bob']) {
    const id = add.pluck().get(name, hashOf(name)) as number;
    other.prepare('INSERT INTO subscriber_packages (subscriber_id, package_id) VALUES (?, 1)').run(id);
  }
  return {
    own,
    other,
    close: () => {
      other.close();
      own.close();
      dir.cleanup();
    },
  };
}

/**
 * What a change feed does (PostgreSQL's LISTEN): it is told ids, and hands them over once.
 * The interface's other implementation, beside the SQLite log's follower.
 */
class NotifiedIds implements ChangedSubscribers {
  private ids: number[] = [];
  private everyone = false;

  notify(ids: number[] | '*'): void {
    if (ids === '*') this.everyone = true;
    else this.ids.push(...ids);
  }

  changed(): readonly number[] | undefined {
    const { ids, everyone } = this;
    this.ids = [];
    this.everyone = false;
    return everyone ? undefined : ids;
  }
}

describe('remembered subscribers, when their lookups wait', () => {
  let db: ReturnType<typeof twoConnections>;
  let later: LaterLookups;
  let remembered: RememberedAccess;

  beforeEach(() => {
    db = twoConnections();
    later = new LaterLookups(new SubscriberStore(db.own, { days: 30, clock }));
    const lineup = new LineupStore(db.own);
    remembered = new RememberedAccess(
      later,
      new SubscriberChangeFollower(new SubscriberChangeStore(db.own), () => lineup.changeMarkerValue()),
      100,
    );
  });
  afterEach(() => db.close());

  const asked = (name: string) => later.asked.filter((hash) => hash === hashOf(name)).length;

  it('when nothing changes while a lookup waits, then its subscriber is remembered and found again at once, without a lookup', async () => {
    const found = await remembered.findAccess(hashOf('alice'));
    expect(found?.username).toBe('alice');
    const again = remembered.findAccess(hashOf('alice'));
    expect(again).not.toBeInstanceOf(Promise);
    expect((again as SubscriberAccess).username).toBe('alice');
    expect(asked('alice')).toBe(1);
  });

  it('when the subscriber is disabled while its lookup waits, then that lookup answers its own request but is not remembered, and the next one reads the disable', async () => {
    later.hold();
    const pending = remembered.findAccess(hashOf('alice'));
    db.other.exec("UPDATE subscribers SET enabled = 0 WHERE username = 'alice'");
    await nextTurn();
    later.release();
    // Read before the disable committed: right for the request that asked before it.
    expect((await pending)?.enabled).toBe(true);
    const next = await remembered.findAccess(hashOf('alice'));
    expect(next?.enabled).toBe(false);
    expect(asked('alice')).toBe(2);
  });

  it('when another request sees the disable while a lookup waits, then the lookup that started before it is not remembered, and one that started after it is', async () => {
    later.hold();
    const before = remembered.findAccess(hashOf('alice'));
    db.other.exec("UPDATE subscribers SET enabled = 0 WHERE username = 'alice'");
    await nextTurn();
    // This request's look at the changes forgets alice; its own lookup starts after that.
    const after = remembered.findAccess(hashOf('bob'));
    later.release();
    expect((await before)?.enabled).toBe(true);
    expect((await after)?.username).toBe('bob');
    expect((await remembered.findAccess(hashOf('alice')))?.enabled).toBe(false);
    expect(remembered.findAccess(hashOf('bob'))).not.toBeInstanceOf(Promise);
    expect([asked('alice'), asked('bob')]).toEqual([2, 1]);
  });

  it('when every subscriber is forgotten while a lookup waits (the log trimmed past what was read), then that lookup is not remembered', async () => {
    await remembered.findAccess(hashOf('bob'));
    later.hold();
    const pending = remembered.findAccess(hashOf('alice'));
    db.other.exec("UPDATE subscribers SET enabled = 0 WHERE username = 'alice'");
    expect(new SubscriberStore(db.other, { days: 30, clock }).trimChangeLog(0)).toBeGreaterThan(0);
    await nextTurn();
    later.release();
    expect((await pending)?.enabled).toBe(true);
    expect((await remembered.findAccess(hashOf('alice')))?.enabled).toBe(false);
    // bob was forgotten with everyone: asked again too.
    await remembered.findAccess(hashOf('bob'));
    expect([asked('alice'), asked('bob')]).toEqual([2, 2]);
  });
});

describe('remembered subscribers fed by a change feed', () => {
  let db: ReturnType<typeof twoConnections>;
  let later: LaterLookups;
  let feed: NotifiedIds;
  let remembered: RememberedAccess;

  beforeEach(() => {
    db = twoConnections();
    later = new LaterLookups(new SubscriberStore(db.own, { days: 30, clock }));
    feed = new NotifiedIds();
    remembered = new RememberedAccess(later, feed, 100);
  });
  afterEach(() => db.close());

  it('when the feed names a subscriber, then exactly that one is looked up again', async () => {
    await remembered.findAccess(hashOf('alice'));
    await remembered.findAccess(hashOf('bob'));
    db.other.exec("UPDATE subscribers SET enabled = 0 WHERE username = 'bob'");
    feed.notify([2]);
    expect(remembered.findAccess(hashOf('alice'))).not.toBeInstanceOf(Promise);
    expect((await remembered.findAccess(hashOf('bob')))?.enabled).toBe(false);
  });

  it.each([
    ['its id', [1] as number[] | '*'],
    ['everyone', '*' as const],
  ])('when the feed names %s while its lookup waits, then the lookup is not remembered', async (_, ids) => {
    later.hold();
    const pending = remembered.findAccess(hashOf('alice'));
    db.other.exec("UPDATE subscribers SET enabled = 0 WHERE username = 'alice'");
    feed.notify(ids);
    later.release();
    expect((await pending)?.enabled).toBe(true);
    expect((await remembered.findAccess(hashOf('alice')))?.enabled).toBe(false);
  });
});

/**
 * A lineup read as a network database's would be: held in memory, and reloaded only when the
 * database says it moved, by a reload that waits until the test releases it. One reload at a time,
 * shared by every request that comes while it is in flight.
 */
class HeldReloads implements LineupSource {
  loads = 0;
  private snapshot: { version: string; channels: Channel[]; origins: OriginRow[] };
  private reload: Promise<void> | undefined;
  private finish: (() => void) | undefined;

  constructor(private readonly store: LineupStore) {
    this.snapshot = this.read();
  }

  changeMarkerValue(): string {
    return this.snapshot.version;
  }

  lineupOnlyVersion(): string {
    return this.snapshot.version;
  }

  channels(): Channel[] {
    return this.snapshot.channels;
  }

  origins(): OriginRow[] {
    return this.snapshot.origins;
  }

  ready(): Promise<void> | undefined {
    if (this.reload || this.store.lineupOnlyVersion() === this.snapshot.version) return this.reload;
    this.loads++;
    this.reload = new Promise((resolve) => {
      this.finish = () => {
        this.snapshot = this.read();
        this.reload = undefined;
        resolve();
      };
    });
    return this.reload;
  }

  release(): void {
    this.finish?.();
  }

  private read() {
    return { version: this.store.lineupOnlyVersion(), channels: this.store.channels(), origins: this.store.origins() };
  }
}

describe('the lineup reload point', () => {
  let db: ReturnType<typeof twoConnections>;
  let source: HeldReloads;
  let playlists: PlaylistService;

  beforeEach(() => {
    db = twoConnections();
    source = new HeldReloads(new LineupStore(db.own));
    const cache = new LineupCache(source, {
      defaultOrigin: {
        name: DEFAULT_ORIGIN_NAME,
        baseUrl: 'http://origin.test',
        scheme: 'flussonic',
        secret: 'test-securetoken-key',
        ipBinding: 'strict',
        hashSubject: 'stream',
        tokenTtl: 3600,
        tokenDesync: 0,
      },
      epgUrl: undefined,
      linkMode: 'direct',
      publicUrl: 'http://lineup.test',
    });
    playlists = new PlaylistService(cache, new SubscriberStore(db.own, { days: 30, clock }), clock);
  });
  afterEach(() => db.close());

  const request: PlaylistHttpRequest = { ip: '192.0.2.1', format: 'hls', gzip: false, holds: () => false, afterResponse: () => {} };
  const text = (response: PlaylistResponse) => String(response.body);

  it('when no reload is in flight, then a playlist is answered at once, in the call that asked', () => {
    const response = playlists.respond(keyOf('alice'), request);
    expect(response).not.toBeInstanceOf(Promise);
    expect(text(response as PlaylistResponse)).toContain('News');
    expect(source.loads).toBe(0);
  });

  it('when the lineup changed, then every request waits for the one reload, and each answers with the new lineup whole', async () => {
    db.other.exec("INSERT INTO channels (stream, name, number) VALUES ('late', 'Late', 2)");
    const waiting = [playlists.respond(keyOf('alice'), request), playlists.respond(keyOf('bob'), request)];
    let settled = 0;
    for (const response of waiting) {
      expect(response).toBeInstanceOf(Promise);
      void Promise.resolve(response).then(() => settled++);
    }
    await nextTurn();
    await nextTurn();
    expect(settled).toBe(0);
    expect(source.loads).toBe(1);
    source.release();
    for (const response of await Promise.all(waiting)) {
      expect(text(response)).toContain('News');
      expect(text(response)).toContain('Late');
    }
    // Current again: answered at once.
    expect(playlists.respond(keyOf('alice'), request)).not.toBeInstanceOf(Promise);
    expect(source.loads).toBe(1);
  });
});

describe('a client that leaves while its lookup waits', () => {
  it('when the playlist is answered after the client has gone, then its download no longer counts toward PLAYLIST_CONCURRENCY_PER_KEY', async () => {
    const later = new LaterLookups();
    const lineup = await startTestLineup({ env: { PLAYLIST_CONCURRENCY_PER_KEY: '1' }, subscriberLookups: later });
    try {
      later.store = lineup.context.subscribers;
      const url = new URL(await addSubscriber(lineup, 'alice', '--days', '30'));
      const path = url.pathname;
      const addressOf = (target: string) => `${lineup.url}${target}`;
      later.hold();
      const gone = httpRequest(addressOf(path), { agent: false });
      gone.on('error', () => {});
      gone.end();
      while (later.asked.length === 0) await nextTurn();
      gone.destroy();
      // The server sees the connection close before the lookup answers.
      await new Promise((resolve) => setTimeout(resolve, 50));
      later.release();
      await new Promise((resolve) => setTimeout(resolve, 50));
      // Remembered by now: answered at once, and let in, since the one that left holds no place.
      const next = await fetchBytes(addressOf(path));
      expect(next.status).toBe(200);
      expect(later.asked).toHaveLength(1);
    } finally {
      await lineup.close();
    }
  });
});
