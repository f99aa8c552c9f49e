/**
 * The audit trail on PostgreSQL: the same rows as SQLite's (db/audit-triggers.ts), with the same
 * row images and the same secrets left out (key and token hashes, origin secrets). SQLite's
 * triggers are TEMP, added by each Lineup connection, because a trigger stored in the file would
 * call a function the sqlite3 shell lacks. PostgreSQL's are real: the actor is the session's
 * `lineup.actor` setting (`SET lineup.actor = 'cli'`, or `set_config('lineup.actor', …, true)`
 * for one transaction), and a session that never set it (psql, a billing system) is recorded as
 * `sql`. A change to an image in db/audit-triggers.ts needs a PostgreSQL migration re-creating
 * these functions.
 */

type Row = 'OLD' | 'NEW';

const SUBSCRIBER = (row: Row, extra = '') =>
  `json_build_object('username', ${row}.username, 'expires_at', ${row}.expires_at, 'enabled', ${row}.enabled <> 0,
    'max_connections', ${row}.max_connections, 'note', ${row}.note, 'has_key', ${row}.key_hash IS NOT NULL${extra})`;
const PACKAGE = (row: Row) => `json_build_object('name', ${row}.name, 'description', ${row}.description)`;
const CHANNEL = (row: Row) =>
  `json_build_object('id', ${row}.id, 'stream', ${row}.stream, 'name', ${row}.name, 'number', ${row}.number, 'group_title', ${row}.group_title,
    'logo', ${row}.logo, 'tvg_id', ${row}.tvg_id, 'enabled', ${row}.enabled, 'catchup_days', ${row}.catchup_days, 'radio', ${row}.radio,
    'origin', ${row}.origin)`;
const ORIGIN = (row: Row) =>
  `json_build_object('name', ${row}.name, 'base_url', ${row}.base_url, 'scheme', ${row}.scheme, 'ip_binding', ${row}.ip_binding,
    'hash_subject', ${row}.hash_subject, 'token_ttl', ${row}.token_ttl, 'token_desync', ${row}.token_desync, 'link_mode', ${row}.link_mode)`;
const TOKEN = (row: Row) => `json_build_object('name', ${row}.name, 'read_only', ${row}.read_only <> 0)`;
const USERNAME_OF = (id: string) => `coalesce((SELECT username FROM subscribers WHERE id = ${id}), '#' || ${id})`;
const PACKAGE_NAME_OF = (id: string) => `coalesce((SELECT name FROM packages WHERE id = ${id}), '#' || ${id})`;
const CHANNEL_STREAM_OF = (id: string) => `coalesce((SELECT stream FROM channels WHERE id = ${id}), '#' || ${id})`;

interface Audited {
  table: string;
  entity: string;
  subject: (row: Row) => string;
  image: (row: Row) => string;
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
    image: (row) => SUBSCRIBER(row),
    updateWhen: `OLD.username IS DISTINCT FROM NEW.username OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
      OR OLD.enabled IS DISTINCT FROM NEW.enabled OR OLD.max_connections IS DISTINCT FROM NEW.max_connections
      OR OLD.note IS DISTINCT FROM NEW.note OR OLD.key_hash IS DISTINCT FROM NEW.key_hash
      OR OLD.xc_password_hash IS DISTINCT FROM NEW.xc_password_hash`,
    updateAfter: SUBSCRIBER(
      'NEW',
      `, 'key_rotated', OLD.key_hash IS DISTINCT FROM NEW.key_hash,
    'xc_password_rotated', OLD.xc_password_hash IS DISTINCT FROM NEW.xc_password_hash`,
    ),
  },
  {
    table: 'subscriber_packages',
    entity: 'subscriber_package',
    subject: (row) => USERNAME_OF(`${row}.subscriber_id`),
    image: (row) => `json_build_object('package', ${PACKAGE_NAME_OF(`${row}.package_id`)})`,
  },
  { table: 'packages', entity: 'package', subject: (row) => `${row}.name`, image: PACKAGE },
  {
    table: 'package_channels',
    entity: 'package_channel',
    subject: (row) => PACKAGE_NAME_OF(`${row}.package_id`),
    image: (row) => `json_build_object('channel', ${CHANNEL_STREAM_OF(`${row}.channel_id`)})`,
  },
  { table: 'channels', entity: 'channel', subject: (row) => `${row}.stream`, image: CHANNEL },
  { table: 'origins', entity: 'origin', subject: (row) => `${row}.name`, image: ORIGIN },
  { table: 'api_tokens', entity: 'api_token', subject: (row) => `${row}.name`, image: TOKEN },
];

function triggersOf({ table, entity, subject, image, updateWhen, updateAfter }: Audited): string {
  const insert = (action: string, subjectSql: string, before: string, after: string) =>
    `INSERT INTO audit_log (actor, action, entity, subject, before, after)
       VALUES (lineup_actor(), '${action}', '${entity}', ${subjectSql}, ${before}, ${after});`;
  return `
CREATE FUNCTION audit_${table}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    ${insert('insert', subject('NEW'), 'NULL', `${image('NEW')}::text`)}
  ELSIF TG_OP = 'UPDATE' THEN
    ${insert('update', subject('NEW'), `${image('OLD')}::text`, `${updateAfter ?? image('NEW')}::text`)}
  ELSE
    ${insert('delete', subject('OLD'), `${image('OLD')}::text`, 'NULL')}
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER audit_${table}_insert AFTER INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION audit_${table}();
CREATE TRIGGER audit_${table}_update AFTER UPDATE ON ${table} FOR EACH ROW ${updateWhen ? `WHEN (${updateWhen})` : ''}
  EXECUTE FUNCTION audit_${table}();
CREATE TRIGGER audit_${table}_delete AFTER DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION audit_${table}();`;
}

/** The actor function and the triggers of every audited table: part of the baseline schema. */
export const AUDIT_SQL = `
CREATE FUNCTION lineup_actor() RETURNS text LANGUAGE sql STABLE AS
  $$ SELECT coalesce(nullif(current_setting('lineup.actor', true), ''), 'sql') $$;
${AUDITED.map(triggersOf).join('\n')}
`;
