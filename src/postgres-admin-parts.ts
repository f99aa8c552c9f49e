import type { AdminParts } from './admin-parts.js';
import { ApiTokens } from './api-tokens/api-tokens.js';
import type { Config } from './config.js';
import { adminPublicUrl } from './context.js';
import { loadCredentialSeal } from './credentials-key.js';
import { ApiWrites } from './db/api-writes.js';
import { readLintInput } from './db/lint-store.js';
import { postgresCatalog, postgresSessionAdmin, readPostgresAudit } from './db/pg/admin-reads.js';
import { PostgresAdminSettings } from './db/pg/admin-settings.js';
import { PostgresApiTokenStore } from './db/pg/api-token-store.js';
import { seedPostgresDemoLineup } from './db/pg/demo.js';
import { postgresIdempotencyRecords } from './db/pg/idempotency-records.js';
import { LATEST_POSTGRES_SCHEMA_VERSION } from './db/pg/migrations.js';
import { numbered } from './db/pg/placeholders.js';
import { whilePruneLockHeld } from './db/pg/prune-lock.js';
import { SESSION_ADDRESSES_SQL } from './db/pg/session-store.js';
import { postgresSession } from './db/pg/sql-session.js';
import { PostgresSubscriberStore } from './db/pg/subscriber-store.js';
import { SyncPostgresClient } from './db/pg/sync-client.js';
import { loggablePostgresUrl } from './db/pg/url.js';
import { type AddressRecord, addressesSince, type SuspectRecord, sharingSinceSql, toAddress, toSuspects } from './db/playlist-ip-store.js';
import type { SeenAddress } from './db/session-store.js';
import { ConfigError } from './errors.js';
import type { ApiServices } from './http/api-operations.js';
import { type ApiRunner, apiRunner } from './http/api-runner.js';
import { lintLineup } from './lint/lint.js';
import type { CredentialSeal } from './subscribers/credentials.js';
import { SubscriberAdmin } from './subscribers/subscriber-admin.js';
import { type Clock, toSqlTime } from './time.js';

/** As SQLite's busy_timeout (db/open.ts). */
const LOCK_WAIT_MS = 5000;

const ADDRESSES_SINCE = numbered(addressesSince(' COLLATE "C"'));
const SHARING_SINCE = numbered(sharingSinceSql(' COLLATE "C"'));

/** A database `lineup init` has brought to this Lineup's schema, or one line saying what to do. */
function assertMigrated(db: SyncPostgresClient, url: string): void {
  const [made] = db.query<{ made: boolean }>("SELECT to_regclass('lineup_schema') IS NOT NULL AS made").rows;
  const version = made?.made ? (db.query<{ version: number }>('SELECT version FROM lineup_schema WHERE id = 1').rows[0]?.version ?? 0) : 0;
  if (version === LATEST_POSTGRES_SCHEMA_VERSION) return;
  const where = `LINEUP_DB: ${loggablePostgresUrl(url)}`;
  if (version > LATEST_POSTGRES_SCHEMA_VERSION) {
    throw new ConfigError(`${where}: database schema version ${version} is newer than this Lineup (${LATEST_POSTGRES_SCHEMA_VERSION})`);
  }
  throw new ConfigError(
    `${where} ${version === 0 ? 'holds no Lineup schema' : `is at schema version ${version}, not ${LATEST_POSTGRES_SCHEMA_VERSION}`}: run lineup init`,
  );
}

/**
 * One synchronous connection to a migrated database, its writes audited as `actor`; a lock held
 * elsewhere (a psql BEGIN left open) is waited for as long as SQLite waits for a busy file, then
 * the statement fails, rather than hanging for good.
 */
export function connectMigrated(url: string, actor: 'cli' | 'server'): SyncPostgresClient {
  const db = SyncPostgresClient.connect(url);
  try {
    assertMigrated(db, url);
    db.query("SELECT set_config('lineup.actor', $1, false), set_config('lock_timeout', $2, false)", [actor, `${LOCK_WAIT_MS}ms`]);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** What the parts over one connection need of the configuration: plain values, which the admin thread is given. */
export type PartsConfig = Pick<Config, 'dbPath' | 'retiredKeyDays' | 'credentialsKeyFile' | 'publicUrl' | 'publicUrlIsSet'>;

/** The settings, the store and SubscriberAdmin over `db`, as every command has them. */
function partsOver(db: SyncPostgresClient, config: PartsConfig, clock: Clock) {
  const settings = new PostgresAdminSettings(db);
  const subscribers = new PostgresSubscriberStore(db, { days: config.retiredKeyDays, clock });
  let seal: CredentialSeal | undefined;
  const credentialSeal = () => {
    seal ??= loadCredentialSeal(config.credentialsKeyFile, settings);
    return seal;
  };
  return {
    settings,
    subscribers,
    subscriberAdmin: new SubscriberAdmin(subscribers, adminPublicUrl(config, settings), clock, credentialSeal),
  };
}

/**
 * The admin parts on PostgreSQL (LINEUP_DB a postgres:// URL): one synchronous connection
 * (db/pg/sync-client.ts) for the store, the settings and the prune lock, recorded in the audit
 * trail as `cli`. `streamedFrom` reads the auth backend's sessions that every node shares.
 */
export function openPostgresAdminParts(config: Config, clock: Clock): AdminParts {
  const db = connectMigrated(config.dbPath, 'cli');
  return {
    config,
    clock,
    ...partsOver(db, config, clock),
    playlistAddresses: (username, since) => db.query<AddressRecord>(ADDRESSES_SINCE, [username, since]).rows.map(toAddress),
    streamedFrom: (subscriberId, since) => db.query<SeenAddress>(SESSION_ADDRESSES_SQL, [subscriberId, since]).rows,
    sharingSince: (since) => toSuspects(db.query<SuspectRecord>(SHARING_SINCE, [since, since]).rows),
    sql: postgresSession(db),
    pruneOnce: (run) => whilePruneLockHeld(db, run),
    apiTokens: new ApiTokens(new PostgresApiTokenStore(db)),
    audit: (query) => readPostgresAudit(db, query),
    sessions: () => postgresSessionAdmin(db),
    close: () => db.close(),
  };
}

/**
 * The admin API's operations on PostgreSQL (http/api-runner.ts), for a node's admin thread
 * (postgres-api-worker.ts): one synchronous connection for the tokens, the reads and each write
 * with its kept answer, audited as `server` but for the API's writes, which name their token.
 */
export function openPostgresApi(config: PartsConfig, clock: Clock, sessionIdleSeconds: number): { runner: ApiRunner; close(): void } {
  const db = connectMigrated(config.dbPath, 'server');
  try {
    const { subscribers, subscriberAdmin } = partsOver(db, config, clock);
    const services: ApiServices = {
      subscriberAdmin,
      catalog: postgresCatalog(db),
      lint: () => lintLineup(readLintInput(postgresSession(db), toSqlTime(clock()))),
      audit: (query) => readPostgresAudit(db, query),
      clock,
      sessions: postgresSessionAdmin(db),
      sessionIdleSeconds,
      usernames: () => new Map(subscribers.list().map((subscriber) => [subscriber.id, subscriber.username])),
    };
    const runner = apiRunner(services, new ApiTokens(new PostgresApiTokenStore(db)), new ApiWrites(postgresIdempotencyRecords(db), clock));
    return { runner, close: () => db.close() };
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * `lineup serve --demo` on PostgreSQL: on the first start of an empty database, the demo lineup
 * and, through SubscriberAdmin (its key made and sealed as every other), the subscriber that
 * `addSubscriber` adds, in one transaction; returns its URL. Nodes started at once seed once
 * between them (db/pg/demo.ts). Over a synchronous connection of its own, closed after: a few
 * statements, once, at start.
 */
export function seedPostgresDemo(config: Config, clock: Clock, addSubscriber: (admin: SubscriberAdmin) => string): string | undefined {
  const db = connectMigrated(config.dbPath, 'server');
  try {
    const { settings, subscriberAdmin } = partsOver(db, config, clock);
    return db.transaction(() => (seedPostgresDemoLineup(db, settings) ? addSubscriber(subscriberAdmin) : undefined));
  } finally {
    db.close();
  }
}
