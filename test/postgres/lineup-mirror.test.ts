import { describe, expect, it } from 'vitest';
import { PostgresLineupMirror } from '../../src/db/pg/lineup-mirror.js';
import type { LineupSnapshot } from '../../src/db/pg/lineup-snapshot.js';

/**
 * The mirror over a database that the test moves by hand: `database.version` is what a read
 * returns, `feed.reported` what the change feed last said; reads are counted.
 */
function mirrorOf(version: string) {
  const database = { version, reads: 0, failing: false };
  const feed: { reported: string | undefined } = { reported: version };
  const clock = { now: 0 };
  const read = async (): Promise<LineupSnapshot> => {
    database.reads++;
    if (database.failing) throw new Error('the database is down');
    return {
      lineupVersion: database.version,
      accessVersion: database.version,
      channels: [],
      origins: [],
      categories: new Map(),
      placements: new Map(),
    };
  };
  const mirror = new PostgresLineupMirror(
    read,
    () => feed.reported,
    () => {},
    () => clock.now,
  );
  return { mirror, database, feed, clock };
}

describe('the lineup a PostgreSQL node holds', () => {
  it('when the feed reports the version held, then every request finds it current and nothing is read', async () => {
    const { mirror, database } = mirrorOf('7');
    await mirror.load();
    for (let i = 0; i < 3; i++) expect(mirror.ready()).toBeUndefined();
    expect(database.reads).toBe(1);
    expect(mirror.lineupOnlyVersion()).toBe('7');
  });

  it('when a newer version is reported after the held one was found current, then the next request waits for one read of it', async () => {
    const { mirror, database, feed } = mirrorOf('7');
    await mirror.load();
    expect(mirror.ready()).toBeUndefined();
    database.version = '10';
    feed.reported = '10';
    const reload = mirror.ready();
    expect(reload).toBeInstanceOf(Promise);
    expect(mirror.ready()).toBe(reload);
    await reload;
    expect(mirror.lineupOnlyVersion()).toBe('10');
    expect(mirror.ready()).toBeUndefined();
    expect(database.reads).toBe(2);
  });

  it('when the feed reports an older version than the one read (a notification overtaken by the read), then nothing is read until a newer one comes', async () => {
    const { mirror, database, feed } = mirrorOf('9');
    await mirror.load();
    // Compared as numbers: '10' is newer than '9', although it sorts before it as text.
    database.version = '10';
    feed.reported = '10';
    await mirror.ready();
    feed.reported = '9';
    expect(mirror.ready()).toBeUndefined();
    expect(mirror.ready()).toBeUndefined();
    database.version = '11';
    feed.reported = '11';
    await mirror.ready();
    expect(mirror.lineupOnlyVersion()).toBe('11');
    expect(database.reads).toBe(3);
  });

  it('when a reload fails, then the lineup held is served, and a request a second later tries again', async () => {
    const { mirror, database, feed, clock } = mirrorOf('7');
    await mirror.load();
    database.version = '8';
    feed.reported = '8';
    database.failing = true;
    await mirror.ready();
    expect(mirror.lineupOnlyVersion()).toBe('7');
    clock.now += 999;
    expect(mirror.ready()).toBeUndefined();
    database.failing = false;
    clock.now += 1;
    await mirror.ready();
    expect(mirror.lineupOnlyVersion()).toBe('8');
    expect(database.reads).toBe(3);
  });
});
