import type { SqlTime } from '../time.js';
import type { Db } from './open.js';

/** One change, as the audit trail recorded it. */
export interface AuditEntry {
  id: number;
  at: SqlTime;
  /** `api:TOKEN_NAME`, `cli`, `sql` or `server`. */
  actor: string;
  action: 'insert' | 'update' | 'delete';
  /** `subscriber`, `subscriber_package`, `package`, `package_channel`, `channel`, `origin` or `api_token`. */
  entity: string;
  /** The username, package name, stream or token name the row is about. */
  subject: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export interface AuditQuery {
  /** A subscriber's changes only: its own row and its packages. */
  username?: string;
  /** At or after this time. */
  since?: SqlTime;
  /** The newest this many, oldest first. */
  limit: number;
}

interface AuditRecord extends Omit<AuditEntry, 'before' | 'after'> {
  before: string | null;
  after: string | null;
}

/** Reads the audit trail (written by db/audit-triggers.ts), oldest first. */
export function readAudit(db: Db, query: AuditQuery): AuditEntry[] {
  const conditions: string[] = [];
  if (query.username !== undefined) conditions.push("entity IN ('subscriber', 'subscriber_package') AND subject = @username");
  if (query.since !== undefined) conditions.push('at >= @since');
  const rows = db
    .prepare(
      `SELECT * FROM (SELECT id, at, actor, action, entity, subject, before, after FROM audit_log
       ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit) ORDER BY id`,
    )
    .all({
      limit: query.limit,
      ...(query.username !== undefined ? { username: query.username } : {}),
      ...(query.since !== undefined ? { since: query.since } : {}),
    }) as AuditRecord[];
  return rows.map((row) => ({
    ...row,
    before: row.before === null ? null : (JSON.parse(row.before) as Record<string, unknown>),
    after: row.after === null ? null : (JSON.parse(row.after) as Record<string, unknown>),
  }));
}
