import type Database from 'better-sqlite3';
import type { AuthSubjectRow, AuthSubjectSource } from '../auth/auth-subjects.js';
import { BadInputError, ConflictError, NotFoundError } from '../errors.js';
import type {
  NewSubscriber,
  RetiredReason,
  SealedCredentials,
  StoredCredential,
  Subscriber,
  SubscriberAccess,
  SubscriberChange,
  SubscriberFilter,
  SubscriberState,
  XcLogin,
} from '../subscribers/subscriber.js';
import type { RestoredSubscriber, SubscriberStorage } from '../subscribers/subscriber-storage.js';
import type { SqlTime } from '../time.js';
import { BulkWriteLog } from './bulk-write-log.js';
import { idList } from './id-list.js';
import { type Db, withoutWaiting } from './open.js';
import { type RetiredKeyRetention, retiredKeysForgottenBy } from './retired-key-retention.js';
import { type AccessColumns, accessOf, type XcLoginColumns, xcLoginOf } from './subscriber-rows.js';
import { ACTIVE_AT, DISABLED, EXPIRED_AT, LAPSED_BY } from './subscriber-rules.js';

/** The list's state filter, in the SQL of subscriber-rules.ts. */
const STATE_AT: Record<SubscriberState, (alias: string) => string> = { active: ACTIVE_AT, expired: EXPIRED_AT, disabled: DISABLED };

/** Above every character a username may hold: a prefix's range ends below the prefix followed by it. */
const LAST_CHARACTER = String.fromCodePoint(0x10ffff);

/**
 * The WHERE of a page of the list and its `?` values in order, in SQL both backends read.
 * `collate` makes usernames compare as SQLite's do, character by character (PostgreSQL's
 * COLLATE "C"; nothing on SQLite), so that a page ends and the next starts at the same name.
 */
export function pageWhere(
  filter: SubscriberFilter,
  now: SqlTime,
  after: string | undefined,
  collate = '',
): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (filter.state) {
    const rule = STATE_AT[filter.state]('s');
    conditions.push(rule);
    if (rule.includes('?')) params.push(now);
  }
  if (filter.expiresBefore !== undefined) {
    conditions.push('s.expires_at < ?');
    params.push(filter.expiresBefore);
  }
  if (filter.package !== undefined) {
    conditions.push(
      'EXISTS (SELECT 1 FROM subscriber_packages sp JOIN packages p ON p.id = sp.package_id WHERE sp.subscriber_id = s.id AND p.name = ?)',
    );
    params.push(filter.package);
  }
  // A range on the UNIQUE index: LIKE would need escaping and skip the index.
  if (filter.usernamePrefix !== undefined) {
    conditions.push(`s.username${collate} >= ? AND s.username${collate} < ?`);
    params.push(filter.usernamePrefix, filter.usernamePrefix + LAST_CHARACTER);
  }
  if (after !== undefined) {
    conditions.push(`s.username${collate} > ?`);
    params.push(after);
  }
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

/** A row of SELECT_SUBSCRIBER, as either backend returns it. */
export interface SubscriberRecord {
  id: number;
  username: string;
  expires_at: string;
  enabled: number;
  max_connections: number;
  note: string;
  created_at: string;
  has_key: number;
  has_xc_password: number;
  packages: string | null;
}

/** A row of pruned_subscribers. */
export interface PrunedRecord {
  username: string;
  key_hash: string | null;
  expires_at: string;
  enabled: number;
  max_connections: number;
  note: string;
  created_at: string;
  packages: string;
  xc_password_hash: string | null;
  xc_password_sealed: string | null;
  key_sealed: string | null;
}

/** The access columns, with the package ids as `group_concat` gives them. */
interface AccessRecord extends AccessColumns {
  package_ids: string | null;
}

interface XcLoginRecord extends XcLoginColumns {
  package_ids: string | null;
}

/**
 * A subscriber as toSubscriber reads it, in SQL that SQLite and PostgreSQL read alike (string_agg,
 * and 0/1 flags rather than PostgreSQL's booleans), so that both stores select the same row.
 */
export const SELECT_SUBSCRIBER = `
  SELECT s.id, s.username, s.expires_at, s.enabled, s.max_connections, s.note, s.created_at,
         CASE WHEN s.key_hash IS NULL THEN 0 ELSE 1 END AS has_key,
         CASE WHEN s.xc_password_hash IS NULL THEN 0 ELSE 1 END AS has_xc_password,
         (SELECT string_agg(p.name, ',') FROM subscriber_packages sp JOIN packages p ON p.id = sp.package_id
           WHERE sp.subscriber_id = s.id) AS packages
  FROM subscribers s`;

/** Only what a playlist request needs: it runs on every request, on the UNIQUE key_hash index. */
const SELECT_ACCESS = `
  SELECT s.id, s.username, s.expires_at, s.enabled, s.max_connections, s.key_hash,
         (SELECT group_concat(sp.package_id) FROM subscriber_packages sp WHERE sp.subscriber_id = s.id) AS package_ids
  FROM subscribers s`;

export function toSubscriber(row: SubscriberRecord): Subscriber {
  return {
    id: row.id,
    username: row.username,
    expiresAt: row.expires_at,
    enabled: row.enabled === 1,
    maxConnections: row.max_connections,
    note: row.note,
    createdAt: row.created_at,
    hasKey: row.has_key === 1,
    hasXcPassword: row.has_xc_password === 1,
    packages: row.packages ? row.packages.split(',').sort() : [],
  };
}

const toAccess = (row: AccessRecord): SubscriberAccess => accessOf(row, idList(row.package_ids));

/** Subscribers and their packages. Every method is one statement or one transaction. */
export class SubscriberStore implements SubscriberStorage, AuthSubjectSource {
  private readonly authSubject;
  private readonly accessByKeyHash;
  private readonly accessByUsername;
  private readonly byUsername;
  private readonly all;
  private readonly lapsedBy;
  private readonly insert;
  private readonly packageIdByName;
  private readonly linkPackage;
  private readonly unlinkPackage;
  private readonly updateExpiry;
  private readonly updateEnabled;
  private readonly updateKey;
  private readonly updateXcPassword;
  private readonly sealed;
  private readonly xcLoginByUsername;
  private readonly deleteByUsername;
  private readonly deleteLapsedBy;
  private readonly countLapsed;
  private readonly count;
  private readonly recycleLapsed;
  private readonly pruned;
  private readonly insertRestored;
  private readonly unretireRemovedKey;
  private readonly deletePruned;
  private readonly prunedBy;
  private readonly deletePrunedBy;
  private readonly retiredKey;
  private readonly retiredKeysBy;
  private readonly deleteRetiredKeysBy;
  private readonly trimChanges;
  private readonly updateMaxConnections;
  private readonly updateNote;
  private readonly unlinkPackagesBut;
  /** One statement per combination of filters, prepared on first use. */
  private readonly pages = new Map<string, Database.Statement>();
  /** A prune's chunks: checkpoints held back from servers, taken every few chunks (bulk-write-log.ts). */
  private readonly bulkWriteLog: BulkWriteLog;

  constructor(
    private readonly db: Db,
    private readonly retention: RetiredKeyRetention,
  ) {
    this.bulkWriteLog = new BulkWriteLog(db);
    this.accessByKeyHash = db.prepare(`${SELECT_ACCESS} WHERE s.key_hash = ?`);
    this.authSubject = db.prepare(`
      SELECT s.id, s.username, s.expires_at, s.enabled, s.key_hash, s.max_connections,
             (SELECT group_concat(sp.package_id) FROM subscriber_packages sp WHERE sp.subscriber_id = s.id) AS package_ids
      FROM subscribers s WHERE s.id = ?`);
    this.accessByUsername = db.prepare(`${SELECT_ACCESS} WHERE s.username = ?`);
    this.byUsername = db.prepare(`${SELECT_SUBSCRIBER} WHERE s.username = ?`);
    this.all = db.prepare(`${SELECT_SUBSCRIBER} ORDER BY s.username`);
    this.lapsedBy = db.prepare(`${SELECT_SUBSCRIBER} WHERE ${LAPSED_BY('s')} ORDER BY s.username`);
    this.insert = db.prepare(
      `INSERT INTO subscribers (username, key_hash, key_sealed, xc_password_hash, xc_password_sealed, expires_at, max_connections, note)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.packageIdByName = db.prepare('SELECT id FROM packages WHERE name = ?').pluck();
    this.linkPackage = db.prepare('INSERT OR IGNORE INTO subscriber_packages (subscriber_id, package_id) VALUES (?, ?)');
    this.unlinkPackage = db.prepare('DELETE FROM subscriber_packages WHERE subscriber_id = ? AND package_id = ?');
    this.updateExpiry = db.prepare('UPDATE subscribers SET expires_at = ? WHERE username = ?');
    this.updateEnabled = db.prepare('UPDATE subscribers SET enabled = ? WHERE username = ?');
    this.updateKey = db.prepare('UPDATE subscribers SET key_hash = ?, key_sealed = ? WHERE username = ?');
    this.updateXcPassword = db.prepare('UPDATE subscribers SET xc_password_hash = ?, xc_password_sealed = ? WHERE username = ?');
    this.sealed = db.prepare('SELECT key_sealed, xc_password_sealed FROM subscribers WHERE username = ?');
    this.xcLoginByUsername = db.prepare(`
      SELECT s.id, s.username, s.expires_at, s.enabled, s.max_connections, s.created_at, s.xc_password_hash,
             (SELECT group_concat(sp.package_id) FROM subscriber_packages sp WHERE sp.subscriber_id = s.id) AS package_ids
      FROM subscribers s WHERE s.username = ?`);
    this.deleteByUsername = db.prepare('DELETE FROM subscribers WHERE username = ?');
    // The first `limit` lapsed, in the order of the expires_at index: the same rows for both
    // statements of one chunk's transaction.
    const lapsedChunk = `SELECT s.id FROM subscribers s WHERE ${LAPSED_BY('s')} ORDER BY s.expires_at, s.id LIMIT ?`;
    this.deleteLapsedBy = db.prepare(`DELETE FROM subscribers WHERE id IN (${lapsedChunk}) RETURNING username`).pluck();
    this.countLapsed = db.prepare(`SELECT count(*) FROM subscribers s WHERE ${LAPSED_BY('s')}`).pluck();
    this.count = db.prepare('SELECT count(*) FROM subscribers').pluck();
    this.recycleLapsed = db.prepare(`
      INSERT OR REPLACE INTO pruned_subscribers
        (username, key_hash, expires_at, enabled, max_connections, note, created_at, packages, pruned_at,
         xc_password_hash, xc_password_sealed, key_sealed)
      SELECT s.username, s.key_hash, s.expires_at, s.enabled, s.max_connections, s.note, s.created_at,
             (SELECT json_group_array(p.name) FROM subscriber_packages sp JOIN packages p ON p.id = sp.package_id
               WHERE sp.subscriber_id = s.id),
             ?, s.xc_password_hash, s.xc_password_sealed, s.key_sealed
      FROM subscribers s WHERE s.id IN (${lapsedChunk})`);
    this.pruned = db.prepare('SELECT * FROM pruned_subscribers WHERE username = ?');
    this.insertRestored = db.prepare(
      `INSERT INTO subscribers (username, key_hash, expires_at, enabled, max_connections, note, created_at,
                                xc_password_hash, xc_password_sealed, key_sealed)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Only the row the delete trigger wrote ('removed', no subscriber): a rotated-away key stays retired.
    this.unretireRemovedKey = db.prepare("DELETE FROM retired_keys WHERE key_hash = ? AND reason = 'removed' AND subscriber_id IS NULL");
    this.deletePruned = db.prepare('DELETE FROM pruned_subscribers WHERE username = ?');
    this.prunedBy = db.prepare('SELECT count(*) FROM pruned_subscribers WHERE pruned_at <= ?').pluck();
    this.deletePrunedBy = db.prepare('DELETE FROM pruned_subscribers WHERE pruned_at <= ?');
    this.retiredKey = db.prepare('SELECT reason FROM retired_keys WHERE key_hash = ? AND retired_at > ?').pluck();
    this.retiredKeysBy = db.prepare('SELECT count(*) FROM retired_keys WHERE retired_at <= ?').pluck();
    this.deleteRetiredKeysBy = db.prepare('DELETE FROM retired_keys WHERE retired_at <= ?');
    // The oldest first, at most LIMIT of them (-1: all), so that a long log is trimmed a batch at a time.
    this.trimChanges = db.prepare(`
      DELETE FROM subscriber_changes WHERE seq IN (
        SELECT seq FROM subscriber_changes
        WHERE seq <= (SELECT seq FROM sqlite_sequence WHERE name = 'subscriber_changes') - ?
        ORDER BY seq LIMIT ?)`);
    this.updateMaxConnections = db.prepare('UPDATE subscribers SET max_connections = ? WHERE username = ?');
    this.updateNote = db.prepare('UPDATE subscribers SET note = ? WHERE username = ?');
    this.unlinkPackagesBut = db.prepare(
      'DELETE FROM subscriber_packages WHERE subscriber_id = ? AND package_id NOT IN (SELECT value FROM json_each(?))',
    );
  }

  transaction<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  page(filter: SubscriberFilter, now: SqlTime, after: string | undefined, limit: number): Subscriber[] {
    const { where, params } = pageWhere(filter, now, after);
    let statement = this.pages.get(where);
    if (!statement) {
      statement = this.db.prepare(`${SELECT_SUBSCRIBER} ${where} ORDER BY s.username LIMIT ?`);
      this.pages.set(where, statement);
    }
    return (statement.all(...params, limit) as SubscriberRecord[]).map(toSubscriber);
  }

  change(username: string, change: SubscriberChange): void {
    this.transaction(() => {
      const { id } = this.get(username);
      if (change.enabled !== undefined) this.updateEnabled.run(change.enabled ? 1 : 0, username);
      if (change.maxConnections !== undefined) this.updateMaxConnections.run(change.maxConnections, username);
      if (change.note !== undefined) this.updateNote.run(change.note, username);
      if (change.packages !== undefined) {
        const packageIds = change.packages.map((name) => this.packageId(name));
        // Only what differs, so that the audit trail shows the packages that came and went.
        this.unlinkPackagesBut.run(id, JSON.stringify(packageIds));
        for (const packageId of packageIds) this.linkPackage.run(id, packageId);
      }
    });
  }

  findAccess(keyHash: string): SubscriberAccess | undefined {
    const row = this.accessByKeyHash.get(keyHash) as AccessRecord | undefined;
    return row && toAccess(row);
  }

  findAuthSubject(id: number): AuthSubjectRow | undefined {
    const row = this.authSubject.get(id) as (AccessRecord & { max_connections: number }) | undefined;
    if (!row) return undefined;
    const { keyHash, ...access } = toAccess(row);
    return { ...access, keyHash, maxConnections: row.max_connections };
  }

  /** Only while the key is within its retention: a row the prune job has not reached yet is already forgotten. */
  retiredReason(keyHash: string): RetiredReason | undefined {
    return this.retiredKey.get(keyHash, this.retiredKeysForgottenBy(this.retention.clock())) as RetiredReason | undefined;
  }

  countForgottenRetiredKeys(now: number): number {
    return this.retiredKeysBy.get(this.retiredKeysForgottenBy(now)) as number;
  }

  forgetRetiredKeys(now: number): number {
    return this.deleteRetiredKeysBy.run(this.retiredKeysForgottenBy(now)).changes;
  }

  trimChangeLog(keep: number, limit?: number): number {
    return this.trimChanges.run(keep, limit ?? -1).changes;
  }

  /**
   * trimChangeLog for the server's housekeeping, in the event loop that answers requests: while
   * another connection holds the write lock (a chunk of `lineup prune`), SQLITE_BUSY at once rather
   * than the busy timeout's wait, which held every request up to 5 s (docs/performance.md).
   */
  trimChangeLogWithoutWaiting(keep: number, limit: number): number {
    return withoutWaiting(this.db, () => this.trimChangeLog(keep, limit));
  }

  find(username: string): Subscriber | undefined {
    const row = this.byUsername.get(username) as SubscriberRecord | undefined;
    return row && toSubscriber(row);
  }

  get(username: string): Subscriber {
    const subscriber = this.find(username);
    if (!subscriber) throw new NotFoundError(`no subscriber named "${username}"`);
    return subscriber;
  }

  findAccessByUsername(username: string): SubscriberAccess {
    const row = this.accessByUsername.get(username) as AccessRecord | undefined;
    if (!row) throw new NotFoundError(`no subscriber named "${username}"`);
    return toAccess(row);
  }

  list(): Subscriber[] {
    return (this.all.all() as SubscriberRecord[]).map(toSubscriber);
  }

  listLapsedBy(time: SqlTime): Subscriber[] {
    return (this.lapsedBy.all(time) as SubscriberRecord[]).map(toSubscriber);
  }

  add(subscriber: NewSubscriber): Subscriber {
    this.db
      .transaction(() => {
        if (this.find(subscriber.username)) throw new ConflictError(`subscriber "${subscriber.username}" already exists`);
        const packageIds = subscriber.packages.map((name) => this.packageId(name));
        const { lastInsertRowid } = this.insert.run(
          subscriber.username,
          subscriber.key.hash,
          subscriber.key.sealed,
          subscriber.xcPassword.hash,
          subscriber.xcPassword.sealed,
          subscriber.expiresAt,
          subscriber.maxConnections,
          subscriber.note ?? '',
        );
        for (const packageId of packageIds) this.linkPackage.run(lastInsertRowid, packageId);
      })
      .immediate();
    return this.get(subscriber.username);
  }

  changePackages(username: string, add: readonly string[], remove: readonly string[]): Subscriber {
    this.db
      .transaction(() => {
        const { id } = this.get(username);
        const toRemove = remove.map((name) => this.packageId(name));
        const toAdd = add.map((name) => this.packageId(name));
        for (const packageId of toRemove) this.unlinkPackage.run(id, packageId);
        for (const packageId of toAdd) this.linkPackage.run(id, packageId);
      })
      .immediate();
    return this.get(username);
  }

  setExpiry(username: string, expiresAt: SqlTime): void {
    this.mustChange(this.updateExpiry.run(expiresAt, username).changes, username);
  }

  setEnabled(username: string, enabled: boolean): void {
    this.mustChange(this.updateEnabled.run(enabled ? 1 : 0, username).changes, username);
  }

  setKey(username: string, key: StoredCredential): void {
    this.mustChange(this.updateKey.run(key.hash, key.sealed, username).changes, username);
  }

  setXcPassword(username: string, password: StoredCredential): void {
    this.mustChange(this.updateXcPassword.run(password.hash, password.sealed, username).changes, username);
  }

  sealedCredentials(username: string): SealedCredentials {
    const row = this.sealed.get(username) as { key_sealed: string | null; xc_password_sealed: string | null } | undefined;
    if (!row) throw new NotFoundError(`no subscriber named "${username}"`);
    return { key: row.key_sealed, xcPassword: row.xc_password_sealed };
  }

  findXcLogin(username: string): XcLogin | undefined {
    const row = this.xcLoginByUsername.get(username) as XcLoginRecord | undefined;
    return row && xcLoginOf(row, idList(row.package_ids));
  }

  remove(username: string): void {
    this.mustChange(this.deleteByUsername.run(username).changes, username);
  }

  countAll(): number {
    return this.count.get() as number;
  }

  countLapsedBy(time: SqlTime): number {
    return this.countLapsed.get(time) as number;
  }

  /** One transaction: copied to pruned_subscribers, then deleted (package links cascade, the key retires). */
  recycleLapsedBy(time: SqlTime, prunedAt: SqlTime, limit: number): string[] {
    this.bulkWriteLog.beforeCommit();
    const usernames = this.db
      .transaction(() => {
        this.recycleLapsed.run(prunedAt, time, limit);
        return (this.deleteLapsedBy.all(time, limit) as string[]).sort();
      })
      .immediate();
    this.bulkWriteLog.afterCommit();
    return usernames;
  }

  truncateWriteAheadLog(): boolean {
    return this.bulkWriteLog.finish();
  }

  countPurgeableBy(time: SqlTime): number {
    return this.prunedBy.get(time) as number;
  }

  purgePrunedBy(time: SqlTime): number {
    return this.deletePrunedBy.run(time).changes;
  }

  restore(username: string): RestoredSubscriber {
    const missingPackages = this.db
      .transaction(() => {
        const row = this.pruned.get(username) as PrunedRecord | undefined;
        if (!row) throw new NotFoundError(`no pruned subscriber named "${username}" (restorable for PRUNE_KEEP_DAYS after the prune)`);
        if (this.find(username)) throw new BadInputError(`subscriber "${username}" exists again; remove or rename it first`);
        if (row.key_hash !== null && this.findAccess(row.key_hash)) {
          throw new BadInputError(`the old key of "${username}" belongs to another subscriber now`);
        }
        if (row.key_hash !== null) this.unretireRemovedKey.run(row.key_hash);
        const { lastInsertRowid } = this.insertRestored.run(
          row.username,
          row.key_hash,
          row.expires_at,
          row.enabled,
          row.max_connections,
          row.note,
          row.created_at,
          row.xc_password_hash,
          row.xc_password_sealed,
          row.key_sealed,
        );
        const missing: string[] = [];
        for (const name of JSON.parse(row.packages) as string[]) {
          const packageId = this.packageIdByName.get(name) as number | undefined;
          if (packageId === undefined) missing.push(name);
          else this.linkPackage.run(lastInsertRowid, packageId);
        }
        this.deletePruned.run(username);
        return missing;
      })
      .immediate();
    return { subscriber: this.get(username), missingPackages };
  }

  private retiredKeysForgottenBy(now: number): SqlTime {
    return retiredKeysForgottenBy(this.retention, now);
  }

  private packageId(name: string): number {
    const id = this.packageIdByName.get(name) as number | undefined;
    if (id === undefined) throw new BadInputError(`no package named "${name}"`);
    return id;
  }

  private mustChange(changes: number, username: string): void {
    if (changes === 0) throw new NotFoundError(`no subscriber named "${username}"`);
  }
}
