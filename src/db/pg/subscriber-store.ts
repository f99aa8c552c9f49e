import { BadInputError, ConflictError, NotFoundError } from '../../errors.js';
import type {
  NewSubscriber,
  RetiredReason,
  SealedCredentials,
  StoredCredential,
  Subscriber,
  SubscriberAccess,
  SubscriberChange,
  SubscriberFilter,
  XcLogin,
} from '../../subscribers/subscriber.js';
import type { RestoredSubscriber, SubscriberStorage } from '../../subscribers/subscriber-storage.js';
import type { SqlTime } from '../../time.js';
import { type RetiredKeyRetention, retiredKeysForgottenBy } from '../retired-key-retention.js';
import { accessOf, xcLoginOf } from '../subscriber-rows.js';
import { LAPSED_BY } from '../subscriber-rules.js';
import { type PrunedRecord, pageWhere, SELECT_SUBSCRIBER, type SubscriberRecord, toSubscriber } from '../subscriber-store.js';
import { numbered } from './placeholders.js';
import { ACCESS, type AccessRow, XC_LOGIN_BY_USERNAME, type XcLoginRow } from './subscriber-access-store.js';
import type { PostgresError, SyncPostgresClient } from './sync-client.js';

/** Usernames sort and compare as SQLite's do, character by character, whatever the database's collation. */
const BY_USERNAME = 'ORDER BY s.username COLLATE "C"';

/** The first `limit` lapsed, in the order of the expires_at index, as SQLite's store takes them. */
const LAPSED_CHUNK = `SELECT s.id FROM subscribers s WHERE ${LAPSED_BY('s')} ORDER BY s.expires_at, s.id LIMIT ?`;

/**
 * One statement: the chunk is deleted, and what was deleted is copied to the recycle table with its
 * package names (SQLite's json_group_array text: `["a","b"]`). Every part of a statement reads the
 * same snapshot, so the package links are read before the delete cascades to them; a subscriber
 * renewed meanwhile by another session is re-checked by the DELETE and stays. The recycle row
 * replaces one of the same name (INSERT OR REPLACE on SQLite).
 */
const RECYCLE_LAPSED = numbered(`
  WITH chunk AS (${LAPSED_CHUNK}),
  deleted AS (
    DELETE FROM subscribers s USING chunk WHERE s.id = chunk.id AND ${LAPSED_BY('s')}
    RETURNING s.*),
  recycled AS (
    INSERT INTO pruned_subscribers
      (username, key_hash, expires_at, enabled, max_connections, note, created_at, packages, pruned_at,
       xc_password_hash, xc_password_sealed, key_sealed)
    SELECT d.username, d.key_hash, d.expires_at, d.enabled, d.max_connections, d.note, d.created_at,
           coalesce((SELECT '[' || string_agg(to_json(p.name)::text, ',' ORDER BY sp.package_id) || ']'
                     FROM subscriber_packages sp JOIN packages p ON p.id = sp.package_id WHERE sp.subscriber_id = d.id), '[]'),
           ?, d.xc_password_hash, d.xc_password_sealed, d.key_sealed
    FROM deleted d
    ON CONFLICT (username) DO UPDATE SET
      key_hash = excluded.key_hash, expires_at = excluded.expires_at, enabled = excluded.enabled,
      max_connections = excluded.max_connections, note = excluded.note, created_at = excluded.created_at,
      packages = excluded.packages, pruned_at = excluded.pruned_at, xc_password_hash = excluded.xc_password_hash,
      xc_password_sealed = excluded.xc_password_sealed, key_sealed = excluded.key_sealed)
  SELECT username FROM deleted`);

const UNIQUE_VIOLATION = '23505';

/**
 * Lineup's subscriber write transactions hold this transaction-level advisory lock, one at a time
 * across every node, as SQLite's one writer at a time (the admin commands' other writes too,
 * sql-session.ts). A constant, so that psql can take it too.
 */
export const SUBSCRIBER_WRITES_LOCK = '7651302094212641795';

/** The change log's trim (keep, limit), shared with the server's trim job (change-log-trim.ts). */
export const TRIM_CHANGE_LOG = `DELETE FROM subscriber_changes WHERE seq IN (
  SELECT seq FROM subscriber_changes
  WHERE seq <= pg_sequence_last_value(pg_get_serial_sequence('subscriber_changes', 'seq')::regclass) - ?
  ORDER BY seq LIMIT ?)`;

/**
 * SubscriberStorage on PostgreSQL, for the admin commands, over one synchronous connection
 * (sync-client.ts): the same methods, plain objects, ordering and errors as db/subscriber-store.ts,
 * whose row mappers and shared SQL it uses. Its transactions take one advisory lock, so that
 * Lineup's subscriber writes queue as SQLite's BEGIN IMMEDIATE makes them: a renewal reads the
 * expiry that the one before it wrote.
 */
export class PostgresSubscriberStore implements SubscriberStorage {
  constructor(
    private readonly db: SyncPostgresClient,
    private readonly retention: RetiredKeyRetention,
  ) {}

  /** `?` placeholders, as the shared SQL has them. */
  private rows<T>(sql: string, params: readonly unknown[] = []): T[] {
    return this.db.query<T>(numbered(sql), params).rows;
  }

  private run(sql: string, params: readonly unknown[] = []): number {
    return this.db.query(numbered(sql), params).rowCount;
  }

  private count(sql: string, params: readonly unknown[] = []): number {
    return Number(this.rows<{ count: number }>(sql, params)[0]?.count ?? 0);
  }

  transaction<T>(work: () => T): T {
    return this.db.transaction(() => {
      // Held to the end of the outermost transaction; taking it again within one is free.
      this.db.query('SELECT pg_advisory_xact_lock($1)', [SUBSCRIBER_WRITES_LOCK]);
      return work();
    });
  }

  findAccess(keyHash: string): SubscriberAccess | undefined {
    const [row] = this.rows<AccessRow>(`${ACCESS} WHERE s.key_hash = ?`, [keyHash]);
    return row && accessOf(row, row.package_ids);
  }

  /** Only while the key is within its retention: a row the prune job has not reached yet is already forgotten. */
  retiredReason(keyHash: string): RetiredReason | undefined {
    const [row] = this.rows<{ reason: RetiredReason }>('SELECT reason FROM retired_keys WHERE key_hash = ? AND retired_at > ?', [
      keyHash,
      retiredKeysForgottenBy(this.retention, this.retention.clock()),
    ]);
    return row?.reason;
  }

  findAccessByUsername(username: string): SubscriberAccess {
    const [row] = this.rows<AccessRow>(`${ACCESS} WHERE s.username = ?`, [username]);
    if (!row) throw new NotFoundError(`no subscriber named "${username}"`);
    return accessOf(row, row.package_ids);
  }

  find(username: string): Subscriber | undefined {
    const [row] = this.rows<SubscriberRecord>(`${SELECT_SUBSCRIBER} WHERE s.username = ?`, [username]);
    return row && toSubscriber(row);
  }

  get(username: string): Subscriber {
    const subscriber = this.find(username);
    if (!subscriber) throw new NotFoundError(`no subscriber named "${username}"`);
    return subscriber;
  }

  list(): Subscriber[] {
    return this.rows<SubscriberRecord>(`${SELECT_SUBSCRIBER} ${BY_USERNAME}`).map(toSubscriber);
  }

  page(filter: SubscriberFilter, now: SqlTime, after: string | undefined, limit: number): Subscriber[] {
    const { where, params } = pageWhere(filter, now, after, ' COLLATE "C"');
    return this.rows<SubscriberRecord>(`${SELECT_SUBSCRIBER} ${where} ${BY_USERNAME} LIMIT ?`, [...params, limit]).map(toSubscriber);
  }

  listLapsedBy(time: SqlTime): Subscriber[] {
    return this.rows<SubscriberRecord>(`${SELECT_SUBSCRIBER} WHERE ${LAPSED_BY('s')} ${BY_USERNAME}`, [time]).map(toSubscriber);
  }

  countAll(): number {
    return this.count('SELECT count(*) AS count FROM subscribers');
  }

  countLapsedBy(time: SqlTime): number {
    return this.count(`SELECT count(*) AS count FROM subscribers s WHERE ${LAPSED_BY('s')}`, [time]);
  }

  recycleLapsedBy(time: SqlTime, prunedAt: SqlTime, limit: number): string[] {
    return this.transaction(() =>
      this.db
        .query<{ username: string }>(RECYCLE_LAPSED, [time, limit, time, prunedAt])
        .rows.map((row) => row.username)
        .sort(),
    );
  }

  /**
   * Nothing to give back: PostgreSQL's write-ahead log is the server's, recycled by its own
   * checkpoints (max_wal_size), and no client can, or needs to, truncate it after a bulk write.
   */
  truncateWriteAheadLog(): boolean {
    return true;
  }

  countPurgeableBy(time: SqlTime): number {
    return this.count('SELECT count(*) AS count FROM pruned_subscribers WHERE pruned_at <= ?', [time]);
  }

  purgePrunedBy(time: SqlTime): number {
    return this.run('DELETE FROM pruned_subscribers WHERE pruned_at <= ?', [time]);
  }

  restore(username: string): RestoredSubscriber {
    const missingPackages = this.transaction(() => {
      const [row] = this.rows<PrunedRecord>('SELECT * FROM pruned_subscribers WHERE username = ?', [username]);
      if (!row) throw new NotFoundError(`no pruned subscriber named "${username}" (restorable for PRUNE_KEEP_DAYS after the prune)`);
      if (this.find(username)) throw new BadInputError(`subscriber "${username}" exists again; remove or rename it first`);
      if (row.key_hash !== null && this.findAccess(row.key_hash)) {
        throw new BadInputError(`the old key of "${username}" belongs to another subscriber now`);
      }
      // Only the row the delete trigger wrote ('removed', no subscriber): a rotated-away key stays retired.
      if (row.key_hash !== null) {
        this.run("DELETE FROM retired_keys WHERE key_hash = ? AND reason = 'removed' AND subscriber_id IS NULL", [row.key_hash]);
      }
      const [inserted] = this.rows<{ id: number }>(
        `INSERT INTO subscribers (username, key_hash, expires_at, enabled, max_connections, note, created_at,
                                  xc_password_hash, xc_password_sealed, key_sealed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        [
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
        ],
      );
      const missing: string[] = [];
      for (const name of JSON.parse(row.packages) as string[]) {
        const packageId = this.findPackageId(name);
        if (packageId === undefined) missing.push(name);
        else this.link(inserted!.id, packageId);
      }
      this.run('DELETE FROM pruned_subscribers WHERE username = ?', [username]);
      return missing;
    });
    return { subscriber: this.get(username), missingPackages };
  }

  add(subscriber: NewSubscriber): Subscriber {
    const taken = () => new ConflictError(`subscriber "${subscriber.username}" already exists`);
    try {
      this.transaction(() => {
        if (this.find(subscriber.username)) throw taken();
        const packageIds = subscriber.packages.map((name) => this.packageId(name));
        const [inserted] = this.rows<{ id: number }>(
          `INSERT INTO subscribers (username, key_hash, key_sealed, xc_password_hash, xc_password_sealed, expires_at, max_connections, note)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
          [
            subscriber.username,
            subscriber.key.hash,
            subscriber.key.sealed,
            subscriber.xcPassword.hash,
            subscriber.xcPassword.sealed,
            subscriber.expiresAt,
            subscriber.maxConnections,
            subscriber.note ?? '',
          ],
        );
        for (const packageId of packageIds) this.link(inserted!.id, packageId);
      });
    } catch (error) {
      // Another node's insert of the same name, between the check and this one.
      if ((error as PostgresError).code === UNIQUE_VIOLATION && (error as PostgresError).constraint === 'subscribers_username_key') {
        throw taken();
      }
      throw error;
    }
    return this.get(subscriber.username);
  }

  changePackages(username: string, add: readonly string[], remove: readonly string[]): Subscriber {
    this.transaction(() => {
      const { id } = this.get(username);
      const toRemove = remove.map((name) => this.packageId(name));
      const toAdd = add.map((name) => this.packageId(name));
      for (const packageId of toRemove)
        this.run('DELETE FROM subscriber_packages WHERE subscriber_id = ? AND package_id = ?', [id, packageId]);
      for (const packageId of toAdd) this.link(id, packageId);
    });
    return this.get(username);
  }

  setExpiry(username: string, expiresAt: SqlTime): void {
    this.mustChange(this.run('UPDATE subscribers SET expires_at = ? WHERE username = ?', [expiresAt, username]), username);
  }

  setEnabled(username: string, enabled: boolean): void {
    this.mustChange(this.run('UPDATE subscribers SET enabled = ? WHERE username = ?', [enabled ? 1 : 0, username]), username);
  }

  change(username: string, change: SubscriberChange): void {
    this.transaction(() => {
      const { id } = this.get(username);
      if (change.enabled !== undefined)
        this.run('UPDATE subscribers SET enabled = ? WHERE username = ?', [change.enabled ? 1 : 0, username]);
      if (change.maxConnections !== undefined) {
        this.run('UPDATE subscribers SET max_connections = ? WHERE username = ?', [change.maxConnections, username]);
      }
      if (change.note !== undefined) this.run('UPDATE subscribers SET note = ? WHERE username = ?', [change.note, username]);
      if (change.packages !== undefined) {
        const packageIds = change.packages.map((name) => this.packageId(name));
        // Only what differs, so that the audit trail shows the packages that came and went.
        this.run('DELETE FROM subscriber_packages WHERE subscriber_id = ? AND NOT (package_id = ANY (?::bigint[]))', [id, packageIds]);
        for (const packageId of packageIds) this.link(id, packageId);
      }
    });
  }

  setKey(username: string, key: StoredCredential): void {
    this.mustChange(
      this.run('UPDATE subscribers SET key_hash = ?, key_sealed = ? WHERE username = ?', [key.hash, key.sealed, username]),
      username,
    );
  }

  setXcPassword(username: string, password: StoredCredential): void {
    this.mustChange(
      this.run('UPDATE subscribers SET xc_password_hash = ?, xc_password_sealed = ? WHERE username = ?', [
        password.hash,
        password.sealed,
        username,
      ]),
      username,
    );
  }

  sealedCredentials(username: string): SealedCredentials {
    const [row] = this.rows<{ key_sealed: string | null; xc_password_sealed: string | null }>(
      'SELECT key_sealed, xc_password_sealed FROM subscribers WHERE username = ?',
      [username],
    );
    if (!row) throw new NotFoundError(`no subscriber named "${username}"`);
    return { key: row.key_sealed, xcPassword: row.xc_password_sealed };
  }

  findXcLogin(username: string): XcLogin | undefined {
    const [row] = this.db.query<XcLoginRow>(XC_LOGIN_BY_USERNAME, [username]).rows;
    return row && xcLoginOf(row, row.package_ids);
  }

  remove(username: string): void {
    this.mustChange(this.run('DELETE FROM subscribers WHERE username = ?', [username]), username);
  }

  countForgottenRetiredKeys(now: number): number {
    return this.count('SELECT count(*) AS count FROM retired_keys WHERE retired_at <= ?', [retiredKeysForgottenBy(this.retention, now)]);
  }

  forgetRetiredKeys(now: number): number {
    return this.run('DELETE FROM retired_keys WHERE retired_at <= ?', [retiredKeysForgottenBy(this.retention, now)]);
  }

  /** The oldest first, at most `limit` (all without), below the last sequence number handed out less `keep`, as on SQLite. */
  trimChangeLog(keep: number, limit?: number): number {
    return this.run(TRIM_CHANGE_LOG, [keep, limit ?? null]);
  }

  private findPackageId(name: string): number | undefined {
    return this.rows<{ id: number }>('SELECT id FROM packages WHERE name = ?', [name])[0]?.id;
  }

  private packageId(name: string): number {
    const id = this.findPackageId(name);
    if (id === undefined) throw new BadInputError(`no package named "${name}"`);
    return id;
  }

  private link(subscriberId: number, packageId: number): void {
    this.run('INSERT INTO subscriber_packages (subscriber_id, package_id) VALUES (?, ?) ON CONFLICT DO NOTHING', [subscriberId, packageId]);
  }

  private mustChange(changes: number, username: string): void {
    if (changes === 0) throw new NotFoundError(`no subscriber named "${username}"`);
  }
}
