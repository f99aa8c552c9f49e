import type { Db } from './open.js';

/**
 * The audit trail's writers. Each Lineup connection adds TEMP triggers that copy every change of
 * the admin tables into `audit_log`, stamped with the connection's actor (`lineup_actor()`, a
 * function of this connection, so that the actor is known without a shared table that two writers
 * could race on). TEMP, because a trigger stored in the file would call a function that the
 * `sqlite3` shell does not have, and break every write made there. Row images leave out what is
 * secret: key and token hashes, origin secrets; a new playlist key shows as `key_rotated: true`, a new XC password as `xc_password_rotated: true`.
 */

/** Who writes on a connection: `api:TOKEN_NAME`, `cli`, `sql`, or `server` (the prune job) by default. */
const actors = new WeakMap<Db, string>();

const SUBSCRIBER = (row: 'OLD' | 'NEW') =>
  `json_object('username', ${row}.username, 'expires_at', ${row}.expires_at, 'enabled', json(iif(${row}.enabled, 'true', 'false')),
    'max_connections', ${row}.max_connections, 'note', ${row}.note, 'has_key', json(iif(${row}.key_hash IS NOT NULL, 'true', 'false')))`;
const PACKAGE = (row: 'OLD' | 'NEW') => `json_object('name', ${row}.name, 'description', ${row}.description)`;
const CHANNEL = (row: 'OLD' | 'NEW') =>
  `json_object('id', ${row}.id, 'stream', ${row}.stream, 'name', ${row}.name, 'number', ${row}.number, 'group_title', ${row}.group_title,
    'logo', ${row}.logo, 'tvg_id', ${row}.tvg_id, 'enabled', ${row}.enabled, 'catchup_days', ${row}.catchup_days, 'radio', ${row}.radio,
    'origin', ${row}.origin)`;
const ORIGIN = (row: 'OLD' | 'NEW') =>
  `json_object('name', ${row}.name, 'base_url', ${row}.base_url, 'scheme', ${row}.scheme, 'ip_binding', ${row}.ip_binding,
    'hash_subject', ${row}.hash_subject, 'token_ttl', ${row}.token_ttl, 'token_desync', ${row}.token_desync, 'link_mode', ${row}.link_mode)`;
const TOKEN = (row: 'OLD' | 'NEW') => `json_object('name', ${row}.name, 'read_only', json(iif(${row}.read_only, 'true', 'false')))`;
const USERNAME_OF = (id: string) => `coalesce((SELECT username FROM main.subscribers WHERE id = ${id}), '#' || ${id})`;
const PACKAGE_NAME_OF = (id: string) => `coalesce((SELECT name FROM main.packages WHERE id = ${id}), '#' || ${id})`;
const CHANNEL_STREAM_OF = (id: string) => `coalesce((SELECT stream FROM main.channels WHERE id = ${id}), '#' || ${id})`;

interface Audited {
  table: string;
  entity: string;
  subject: (row: 'OLD' | 'NEW') => string;
  image: (row: 'OLD' | 'NEW') => string;
  /** Updates that are worth a row (all, when unset). */
  updateWhen?: string;
  /** The after image of an update, when it says more than the row (a subscriber's new key). */
  updateAfter?: string;
}

const AUDITED: Audited[] = [
  {
    table: 'subscribers',
    entity: 'subscriber',
    subject: (row) => `${row}.username`,
    image: SUBSCRIBER,
    updateWhen: `OLD.username IS NOT NEW.username OR OLD.expires_at IS NOT NEW.expires_at OR OLD.enabled IS NOT NEW.enabled
      OR OLD.max_connections IS NOT NEW.max_connections OR OLD.note IS NOT NEW.note OR OLD.key_hash IS NOT NEW.key_hash OR OLD.xc_password_hash IS NOT NEW.xc_password_hash`,
    updateAfter: `json_set(${SUBSCRIBER('NEW')}, '$.key_rotated', json(iif(OLD.key_hash IS NOT NEW.key_hash, 'true', 'false')),
      '$.xc_password_rotated', json(iif(OLD.xc_password_hash IS NOT NEW.xc_password_hash, 'true', 'false')))`,
  },
  {
    table: 'subscriber_packages',
    entity: 'subscriber_package',
    subject: (row) => USERNAME_OF(`${row}.subscriber_id`),
    image: (row) => `json_object('package', ${PACKAGE_NAME_OF(`${row}.package_id`)})`,
  },
  { table: 'packages', entity: 'package', subject: (row) => `${row}.name`, image: PACKAGE },
  {
    table: 'package_channels',
    entity: 'package_channel',
    subject: (row) => PACKAGE_NAME_OF(`${row}.package_id`),
    image: (row) => `json_object('channel', ${CHANNEL_STREAM_OF(`${row}.channel_id`)})`,
  },
  { table: 'channels', entity: 'channel', subject: (row) => `${row}.stream`, image: CHANNEL },
  { table: 'origins', entity: 'origin', subject: (row) => `${row}.name`, image: ORIGIN },
  { table: 'api_tokens', entity: 'api_token', subject: (row) => `${row}.name`, image: TOKEN },
];

function triggersOf({ table, entity, subject, image, updateWhen, updateAfter }: Audited): string {
  const insert = (action: string, subjectSql: string, before: string, after: string) =>
    `INSERT INTO main.audit_log (actor, action, entity, subject, before, after)
       VALUES (lineup_actor(), '${action}', '${entity}', ${subjectSql}, ${before}, ${after});`;
  return `
    CREATE TEMP TRIGGER IF NOT EXISTS audit_${table}_insert AFTER INSERT ON main.${table}
    BEGIN ${insert('insert', subject('NEW'), 'NULL', image('NEW'))} END;
    CREATE TEMP TRIGGER IF NOT EXISTS audit_${table}_update AFTER UPDATE ON main.${table} ${updateWhen ? `WHEN ${updateWhen}` : ''}
    BEGIN ${insert('update', subject('NEW'), image('OLD'), updateAfter ?? image('NEW'))} END;
    CREATE TEMP TRIGGER IF NOT EXISTS audit_${table}_delete AFTER DELETE ON main.${table}
    BEGIN ${insert('delete', subject('OLD'), image('OLD'), 'NULL')} END;`;
}

/** Adds the audit triggers to this connection; its actor is `server` until `setAuditActor`. */
export function installAuditTriggers(db: Db): void {
  db.function('lineup_actor', { deterministic: false }, () => actors.get(db) ?? 'server');
  db.exec(AUDITED.map(triggersOf).join('\n'));
}

/** Whom this connection's changes are recorded under from now on. */
export function setAuditActor(db: Db, actor: string): void {
  actors.set(db, actor);
}

/** Runs `work` (synchronous, so nothing else writes meanwhile) with changes recorded under `actor`. */
export function withAuditActor<T>(db: Db, actor: string, work: () => T): T {
  const previous = actors.get(db);
  actors.set(db, actor);
  try {
    return work();
  } finally {
    if (previous === undefined) actors.delete(db);
    else actors.set(db, previous);
  }
}
