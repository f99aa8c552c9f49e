import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.js';
import { ACTIVE_AT, LAPSED_BY } from '../../src/db/subscriber-rules.js';
import { hasLapsed, stateOf } from '../../src/subscribers/access.js';
import { fromSqlTime, toSqlTime } from '../../src/time.js';
import { tempDir } from '../helpers/lineup.js';

const { dir, cleanup } = tempDir();
const closeDb: (() => void)[] = [];
afterAll(() => {
  for (const close of closeDb) close();
  cleanup();
});

describe('the subscriber rules, in TypeScript and in SQL', () => {
  const db = openDatabase(join(dir, 'lineup.db'));
  closeDb.push(() => db.close());
  const expiresAt = '2030-06-01 12:00:00';
  const expiry = fromSqlTime(expiresAt);
  db.prepare("INSERT INTO subscribers (username, expires_at, enabled) VALUES ('on', ?, 1), ('off', ?, 0)").run(expiresAt, expiresAt);
  const lapsedBy = db.prepare(`SELECT username FROM subscribers AS s WHERE ${LAPSED_BY('s')} ORDER BY username`).pluck();
  const activeAt = db.prepare(`SELECT username FROM subscribers AS s WHERE ${ACTIVE_AT('s')} ORDER BY username`).pluck();

  it.each([-1, 0, 1])(
    'when the clock stands at expiry %+d s, then SQL and TypeScript agree on who has lapsed and who is active',
    (offset) => {
      const now = expiry + offset;
      const subscribers = [
        { username: 'off', enabled: false, expiresAt },
        { username: 'on', enabled: true, expiresAt },
      ];
      expect(lapsedBy.all(toSqlTime(now))).toEqual(subscribers.filter((s) => hasLapsed(s, now)).map((s) => s.username));
      expect(activeAt.all(toSqlTime(now))).toEqual(subscribers.filter((s) => stateOf(s, now) === 'active').map((s) => s.username));
    },
  );

  it('when the clock reaches the very second of expires_at, then the subscription has lapsed, and disabled wins over expired', () => {
    expect(stateOf({ enabled: true, expiresAt }, expiry - 1)).toBe('active');
    expect(stateOf({ enabled: true, expiresAt }, expiry)).toBe('expired');
    expect(stateOf({ enabled: false, expiresAt }, expiry)).toBe('disabled');
    expect(stateOf({ enabled: false, expiresAt }, expiry - 1)).toBe('disabled');
  });
});
