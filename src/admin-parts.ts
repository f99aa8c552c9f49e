import type { ApiTokens } from './api-tokens/api-tokens.js';
import type { Config } from './config.js';
import type { LineupContext } from './context.js';
import { type AuditEntry, type AuditQuery, readAudit } from './db/audit-store.js';
import type { SeenAddress, SessionAdmin } from './db/session-store.js';
import { type SqlSession, sqliteSession } from './db/sql-session.js';
import type { PlaylistAddress, SharingSuspect } from './subscribers/playlist-ips.js';
import type { HeartbeatStore } from './subscribers/prune.js';
import type { SubscriberAdmin } from './subscribers/subscriber-admin.js';
import type { SubscriberStorage } from './subscribers/subscriber-storage.js';
import type { Clock, SqlTime } from './time.js';

/**
 * What the admin commands (`lineup subscriber`, `prune`, `import`, `lint`, `report`, `demo`,
 * `api-token`, `audit`, `sessions`) use, on either backend: on SQLite taken from the whole context
 * (openContext), on PostgreSQL built over one synchronous connection (postgres-admin-parts.ts), so
 * that they run the same rules on both.
 */
export interface AdminParts {
  config: Config;
  clock: Clock;
  subscribers: SubscriberStorage;
  /** Where the prune keeps its heartbeat. */
  settings: HeartbeatStore;
  subscriberAdmin: SubscriberAdmin;
  /** Where a subscriber's playlist was fetched from since `since`, the latest first. */
  playlistAddresses(username: string, since: SqlTime): PlaylistAddress[];
  /** Subscriptions fetched from more addresses than their max_connections since `since`. */
  sharingSince(since: SqlTime): SharingSuspect[];
  /** The same connection, for the stores that both backends share (import, lint, the demo). */
  sql: SqlSession;
  /** Where it streamed from since `since` (the auth backend's sessions), the latest first. */
  streamedFrom(subscriberId: number, since: number): SeenAddress[];
  /**
   * Runs the prune `run` unless another node runs one on the same database now: then undefined,
   * having run nothing. SQLite has one machine, whose writers queue on the file.
   */
  pruneOnce<T>(run: () => T): T | undefined;
  apiTokens: ApiTokens;
  /** The audit trail, oldest first. */
  audit(query: AuditQuery): AuditEntry[];
  /** The auth backend's sessions (opened when first asked, on SQLite: a file of its own). */
  sessions(): SessionAdmin;
  close(): void;
}

/** The parts from SQLite's context; closing them is the context's own close. */
export function sqliteAdminParts(context: LineupContext): AdminParts {
  return {
    config: context.config,
    clock: context.clock,
    subscribers: context.subscribers,
    settings: context.settings,
    subscriberAdmin: context.subscriberAdmin,
    playlistAddresses: (username, since) => context.playlistIpStore.addressesOf(username, since),
    streamedFrom: (subscriberId, since) => context.sessions().addressesOf(subscriberId, since),
    sharingSince: (since) => context.playlistIpStore.sharingSince(since),
    sql: sqliteSession(context.db),
    pruneOnce: (run) => run(),
    apiTokens: context.apiTokens,
    audit: (query) => readAudit(context.db, query),
    sessions: () => context.sessions(),
    close: () => context.close(),
  };
}
