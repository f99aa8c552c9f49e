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

/** An audit_log row as both backends select it: the images as JSON text. */
export interface AuditRecord extends Omit<AuditEntry, 'before' | 'after'> {
  before: string | null;
  after: string | null;
}

/** The newest `limit` entries that match, oldest first, with `?` placeholders: the same on both backends. */
export function auditStatement(query: AuditQuery): [string, unknown[]] {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (query.username !== undefined) {
    conditions.push("entity IN ('subscriber', 'subscriber_package') AND subject = ?");
    params.push(query.username);
  }
  if (query.since !== undefined) {
    conditions.push('at >= ?');
    params.push(query.since);
  }
  return [
    `SELECT * FROM (SELECT id, at, actor, action, entity, subject, before, after FROM audit_log
     ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?) AS newest ORDER BY id`,
    [...params, query.limit],
  ];
}

export const toAuditEntry = (row: AuditRecord): AuditEntry => ({
  ...row,
  before: row.before === null ? null : (JSON.parse(row.before) as Record<string, unknown>),
  after: row.after === null ? null : (JSON.parse(row.after) as Record<string, unknown>),
});

/** Reads the audit trail (written by db/audit-triggers.ts), oldest first. */
export function readAudit(db: Db, query: AuditQuery): AuditEntry[] {
  const [sql, params] = auditStatement(query);
  return (db.prepare(sql).all(...params) as AuditRecord[]).map(toAuditEntry);
}
