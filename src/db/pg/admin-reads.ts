import { type AuditEntry, type AuditQuery, type AuditRecord, auditStatement, toAuditEntry } from '../audit-store.js';
import {
  CATALOG_SQL,
  type CatalogReads,
  type ChannelRecord,
  type ChannelSummary,
  type PackageSummary,
  toChannelSummary,
} from '../catalog-store.js';
import { ACTIVE_SESSIONS_OF_SQL, ACTIVE_SESSIONS_SQL, type SessionAdmin, type SessionRow, toRecord } from '../session-store.js';
import { numbered } from './placeholders.js';
import { END_RETURNING, ENDS_MARK } from './session-store.js';
import type { SyncPostgresClient } from './sync-client.js';

/*
 * What the admin API and the admin commands read on PostgreSQL, over their synchronous connection
 * (sync-client.ts): SQLite's statements (db/audit-store.ts, catalog-store.ts, lint-store.ts,
 * session-store.ts) with PostgreSQL's placeholders, text order and JSON aggregate, and their row mappers.
 */

/** readAudit on PostgreSQL. */
export function readPostgresAudit(db: SyncPostgresClient, query: AuditQuery): AuditEntry[] {
  const [sql, params] = auditStatement(query);
  return db.query<AuditRecord>(numbered(sql), params).rows.map(toAuditEntry);
}

const PACKAGES = CATALOG_SQL.packages(' COLLATE "C"');
const CHANNELS = CATALOG_SQL.channels(' COLLATE "C"', 'json_agg(p.name)::text');

/** CatalogStore on PostgreSQL. */
export function postgresCatalog(db: SyncPostgresClient): CatalogReads {
  return {
    listPackages: () => db.query<PackageSummary>(PACKAGES).rows,
    listChannels: (): ChannelSummary[] => db.query<ChannelRecord>(CHANNELS).rows.map(toChannelSummary),
  };
}

const ACTIVE = numbered(ACTIVE_SESSIONS_SQL('stream_sessions'));
const ACTIVE_OF = numbered(ACTIVE_SESSIONS_OF_SQL('stream_sessions'));

/** SessionAdmin over the sessions every node shares (db/pg/session-store.ts). */
export function postgresSessionAdmin(db: SyncPostgresClient): SessionAdmin {
  return {
    active: (since, subscriberId) =>
      (subscriberId === undefined
        ? db.query<SessionRow>(ACTIVE, [since])
        : db.query<SessionRow>(ACTIVE_OF, [since, subscriberId])
      ).rows.map(toRecord),
    end: (ids, reason, at) => {
      if (ids.length === 0) return [];
      const ended = db.query<{ id: number }>(END_RETURNING.text, [at, reason, [...ids]]).rows.map((row) => Number(row.id));
      // Once committed, as the nodes' own endings: each node's limiter then reads the sessions again.
      if (ended.length > 0) db.afterCommit(() => db.query(ENDS_MARK));
      return ended;
    },
  };
}
