import type Database from 'better-sqlite3';

/** The tables playlists and their access rules read, as of migration 8: each change moves lineup_version. */
const LINEUP_TABLES_AT_8 = ['channels', 'origins', 'packages', 'package_channels', 'subscribers', 'subscriber_packages', 'retired_keys'];

/** Three row triggers moving lineup_changes (step 11): the lineup alone, not its subscribers. */
function bumpLineupChangesOnChange(table: string): string {
  return ['INSERT', 'UPDATE', 'DELETE']
    .map(
      (event) =>
        `CREATE TRIGGER IF NOT EXISTS ${table}_${event.toLowerCase()}_moves_lineup_changes AFTER ${event} ON ${table}\n` +
        '  BEGIN UPDATE lineup_changes SET version = version + 1; END;',
    )
    .join('\n');
}

/** Three row triggers, since SQLite has no statement triggers; the counter lives on one page. */
function bumpLineupVersionOnChange(table: string): string {
  return ['INSERT', 'UPDATE', 'DELETE']
    .map(
      (event) =>
        `CREATE TRIGGER IF NOT EXISTS ${table}_${event.toLowerCase()}_moves_lineup_version AFTER ${event} ON ${table}\n` +
        '  BEGIN UPDATE lineup_version SET version = version + 1; END;',
    )
    .join('\n');
}

/**
 * Versioned schema changes, applied in order at start. `PRAGMA user_version` records how many
 * have run. Append new steps; never edit one that has shipped.
 *
 * Operators write SQL against these tables, so the names are part of the product.
 */
/**
 * A step is SQL run in one transaction. A step that rebuilds a table other tables reference (to
 * change a CHECK list, which SQLite cannot alter) runs with foreign keys off, as SQLite's own
 * procedure for such changes says: dropping the old table would otherwise delete its rows, and
 * ON DELETE RESTRICT refuse. `PRAGMA foreign_key_check` then proves, before the commit, that every
 * reference still holds.
 */
type Migration = string | { sql: string; withoutForeignKeys: true };

const migrations: readonly Migration[] = [
  /* 1: the admin-facing tables */ `
  CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;

  -- Extra streaming servers. A channel whose origin is NULL uses the default one from the environment.
  CREATE TABLE origins (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE CHECK (name <> '' AND name NOT GLOB '*[^A-Za-z0-9_.-]*'),
    base_url     TEXT NOT NULL CHECK ((base_url GLOB 'http://?*' OR base_url GLOB 'https://?*')
                                      AND base_url NOT GLOB '*[ ,"' || char(9, 10, 13) || ']*'),
    scheme       TEXT NOT NULL DEFAULT 'flussonic' CHECK (scheme IN ('flussonic', 'nginx')),
    secret       TEXT NOT NULL CHECK (secret <> ''),
    ip_binding   TEXT NOT NULL DEFAULT 'strict' CHECK (ip_binding IN ('strict', 'none')),
    hash_subject TEXT NOT NULL DEFAULT 'stream' CHECK (hash_subject IN ('stream', 'id', 'path')),
    token_ttl    INTEGER CHECK (token_ttl IS NULL OR token_ttl >= 60),
    token_desync INTEGER CHECK (token_desync IS NULL OR token_desync >= 0),
    -- NULL: LINK_MODE from the environment. 'redirect' puts stable Lineup URLs in playlists.
    link_mode    TEXT CHECK (link_mode IS NULL OR link_mode IN ('direct', 'redirect')),
    options      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(options))
  ) STRICT;

  CREATE TABLE channels (
    id           INTEGER PRIMARY KEY,
    stream       TEXT NOT NULL CHECK (trim(stream) <> '' AND stream NOT GLOB '/*'),
    name         TEXT NOT NULL DEFAULT '',
    number       INTEGER CHECK (number IS NULL OR number >= 0),
    group_title  TEXT NOT NULL DEFAULT '',
    logo         TEXT NOT NULL DEFAULT '',
    tvg_id       TEXT NOT NULL DEFAULT '',
    enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    catchup_days INTEGER NOT NULL DEFAULT 0 CHECK (catchup_days BETWEEN 0 AND 365),
    radio        INTEGER NOT NULL DEFAULT 0 CHECK (radio IN (0, 1)),
    origin       TEXT REFERENCES origins (name) ON UPDATE CASCADE ON DELETE RESTRICT,
    created_at   TEXT NOT NULL DEFAULT (datetime('now'))
  ) STRICT;
  CREATE INDEX channels_order ON channels (number, name);
  CREATE INDEX channels_origin ON channels (origin);

  CREATE TABLE packages (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (trim(name) <> ''),
    description TEXT NOT NULL DEFAULT ''
  ) STRICT;

  -- A channel in no package is seen by every subscriber; one in a package only by its subscribers.
  -- Deleting a package that still holds channels is refused (RESTRICT): a cascade would leave
  -- its channels in no package, and so show premium channels to everyone. Empty it first.
  CREATE TABLE package_channels (
    package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE RESTRICT,
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (package_id, channel_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX package_channels_channel ON package_channels (channel_id);

  CREATE TABLE subscribers (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE CHECK (username <> '' AND length(username) <= 64),
    -- sha256 of the playlist key, hex. NULL until a key is issued (lineup subscriber rotate).
    key_hash        TEXT UNIQUE CHECK (key_hash IS NULL OR length(key_hash) = 64),
    -- UTC, 'YYYY-MM-DD HH:MM:SS', so that datetime('now') compares with it.
    expires_at      TEXT NOT NULL CHECK (expires_at IS strftime('%Y-%m-%d %H:%M:%S', expires_at)),
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    max_connections INTEGER NOT NULL DEFAULT 1 CHECK (max_connections BETWEEN 1 AND 1000),
    note            TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL DEFAULT (datetime('now'))
  ) STRICT;
  CREATE INDEX subscribers_expires_at ON subscribers (expires_at);

  CREATE TABLE subscriber_packages (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    package_id    INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, package_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX subscriber_packages_package ON subscriber_packages (package_id);
  `,
  /* 2: what `lineup import` last wrote, so that a re-import keeps operators' hand edits */ `
  -- One row per channel that came from an upstream M3U. The entry is identified by the origin it
  -- was imported for ('' = the default origin) and the stream name derived from the file
  -- (import_key), so the operator may rename the channel's stream without losing the link.
  -- The other columns hold the values the import last wrote. A re-import changes a channel's
  -- field only while it still equals that value: a number or name the operator changed by hand
  -- differs, and is kept. Deleting the channel deletes its row (a re-import then adds it again;
  -- set enabled = 0 to hide an upstream channel for good).
  CREATE TABLE channel_imports (
    channel_id   INTEGER PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    origin_key   TEXT NOT NULL DEFAULT '',
    import_key   TEXT NOT NULL CHECK (import_key <> ''),
    source       TEXT NOT NULL,
    name         TEXT NOT NULL,
    number       INTEGER,
    group_title  TEXT NOT NULL,
    logo         TEXT NOT NULL,
    tvg_id       TEXT NOT NULL,
    catchup_days INTEGER NOT NULL,
    radio        INTEGER NOT NULL,
    imported_at  TEXT NOT NULL DEFAULT (datetime('now')),
    UNIQUE (origin_key, import_key)
  ) STRICT;
  `,
  /* 3: keys replaced by a rotation, so that an old URL is told so instead of "no such playlist" */ `
  -- Filled by the trigger on every change of key_hash (lineup subscriber rotate, or an admin's
  -- UPDATE), so that an app still holding the old URL gets a 403 saying it was replaced, and its
  -- retries never count as key guesses. Removing the subscriber removes its old keys too.
  CREATE TABLE retired_keys (
    key_hash      TEXT PRIMARY KEY CHECK (length(key_hash) = 64),
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    retired_at    TEXT NOT NULL DEFAULT (datetime('now'))
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX retired_keys_subscriber ON retired_keys (subscriber_id);

  CREATE TRIGGER subscribers_retire_key AFTER UPDATE OF key_hash ON subscribers
    WHEN OLD.key_hash IS NOT NULL AND OLD.key_hash IS NOT NEW.key_hash
  BEGIN
    INSERT OR REPLACE INTO retired_keys (key_hash, subscriber_id) VALUES (OLD.key_hash, OLD.id);
  END;
  `,
  /* 4: a stream is unique per origin, so that re-applying a script of upserts converges */ `
  -- Copies left by running an INSERT script twice are merged into the first row (the lowest id):
  -- their package links move to it, then they go. Two indexes, because NULL (the default origin)
  -- never equals NULL in a UNIQUE index; an upsert names the one it means:
  --   INSERT INTO channels (stream, name) VALUES ('news', 'News')
  --     ON CONFLICT (stream) WHERE origin IS NULL DO UPDATE SET name = excluded.name;
  CREATE TEMP TABLE channel_copies AS
    SELECT copy.id AS copy_id, min(first.id) AS first_id
    FROM channels copy JOIN channels first
      ON first.stream = copy.stream AND first.origin IS copy.origin AND first.id < copy.id
    GROUP BY copy.id;
  INSERT OR IGNORE INTO package_channels (package_id, channel_id)
    SELECT pc.package_id, cc.first_id FROM package_channels pc JOIN channel_copies cc ON cc.copy_id = pc.channel_id;
  DELETE FROM channels WHERE id IN (SELECT copy_id FROM channel_copies);
  DROP TABLE channel_copies;
  CREATE UNIQUE INDEX channels_stream_default_origin ON channels (stream) WHERE origin IS NULL;
  CREATE UNIQUE INDEX channels_stream_per_origin ON channels (origin, stream) WHERE origin IS NOT NULL;
  `,
  /* 5: retired keys outlive their subscriber, so that a removed or pruned URL is told so */ `
  -- A key retires when it is rotated away (reason 'rotated', subscriber_id set) or when its
  -- subscriber is deleted, by \`subscriber remove\`, the prune job or an admin's DELETE (reason
  -- 'removed', subscriber_id NULL). Either way its holder was a subscriber, not a guesser.
  DROP TRIGGER subscribers_retire_key;
  CREATE TABLE retired_keys_next (
    key_hash      TEXT PRIMARY KEY CHECK (length(key_hash) = 64),
    subscriber_id INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    reason        TEXT NOT NULL CHECK (reason IN ('rotated', 'removed')),
    retired_at    TEXT NOT NULL DEFAULT (datetime('now'))
  ) STRICT, WITHOUT ROWID;
  INSERT INTO retired_keys_next (key_hash, subscriber_id, reason, retired_at)
    SELECT key_hash, subscriber_id, 'rotated', retired_at FROM retired_keys;
  DROP TABLE retired_keys;
  ALTER TABLE retired_keys_next RENAME TO retired_keys;
  CREATE INDEX retired_keys_subscriber ON retired_keys (subscriber_id);
  CREATE INDEX retired_keys_retired_at ON retired_keys (retired_at);

  CREATE TRIGGER subscribers_retire_key AFTER UPDATE OF key_hash ON subscribers
    WHEN OLD.key_hash IS NOT NULL AND OLD.key_hash IS NOT NEW.key_hash
  BEGIN
    INSERT OR REPLACE INTO retired_keys (key_hash, subscriber_id, reason) VALUES (OLD.key_hash, OLD.id, 'rotated');
  END;

  CREATE TRIGGER subscribers_retire_keys_on_delete BEFORE DELETE ON subscribers
  BEGIN
    UPDATE retired_keys SET reason = 'removed', retired_at = datetime('now') WHERE subscriber_id = OLD.id;
    INSERT OR REPLACE INTO retired_keys (key_hash, subscriber_id, reason)
      SELECT OLD.key_hash, NULL, 'removed' WHERE OLD.key_hash IS NOT NULL;
  END;
  `,
  /* 6: pruned subscribers wait in a recycle table, so that a wrong clock cannot destroy them */ `
  -- The prune job moves a subscriber here instead of only deleting it: its row values, the names
  -- of its packages (a JSON array) and its key hash. \`lineup subscriber restore USER\` puts it back
  -- with the same URL until PRUNE_KEEP_DAYS after pruned_at; then the prune job purges the row.
  -- One row per username: pruning a later subscriber of the same name replaces the earlier one.
  -- \`subscriber remove\` and an admin's DELETE do not come here: those are meant.
  CREATE TABLE pruned_subscribers (
    username        TEXT PRIMARY KEY,
    key_hash        TEXT CHECK (key_hash IS NULL OR length(key_hash) = 64),
    expires_at      TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    max_connections INTEGER NOT NULL,
    note            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    packages        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(packages)),
    pruned_at       TEXT NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX pruned_subscribers_pruned_at ON pruned_subscribers (pruned_at);
  `,
  /* 7: origins whose links Lineup's auth backend checks, and a previous secret for rotating keys */ {
    withoutForeignKeys: true,
    sql: `
  -- scheme 'backend': stream URLs carry a token Lineup issues (keyed with secret) and verifies when
  -- the streaming server asks /auth/… . previous_secret: the secret before the last rotation, still
  -- accepted, so that rotating (UPDATE origins SET previous_secret = secret, secret = 'NEW') cuts
  -- nobody off; set it to NULL once the old tokens have expired (TOKEN_TTL).
  CREATE TABLE origins_next (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE CHECK (name <> '' AND name NOT GLOB '*[^A-Za-z0-9_.-]*'),
    base_url        TEXT NOT NULL CHECK ((base_url GLOB 'http://?*' OR base_url GLOB 'https://?*')
                                         AND base_url NOT GLOB '*[ ,"' || char(9, 10, 13) || ']*'),
    scheme          TEXT NOT NULL DEFAULT 'flussonic' CHECK (scheme IN ('flussonic', 'nginx', 'backend')),
    secret          TEXT NOT NULL CHECK (secret <> ''),
    ip_binding      TEXT NOT NULL DEFAULT 'strict' CHECK (ip_binding IN ('strict', 'none')),
    hash_subject    TEXT NOT NULL DEFAULT 'stream' CHECK (hash_subject IN ('stream', 'id', 'path')),
    token_ttl       INTEGER CHECK (token_ttl IS NULL OR token_ttl >= 60),
    token_desync    INTEGER CHECK (token_desync IS NULL OR token_desync >= 0),
    link_mode       TEXT CHECK (link_mode IS NULL OR link_mode IN ('direct', 'redirect')),
    options         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(options)),
    previous_secret TEXT CHECK (previous_secret IS NULL OR previous_secret <> '')
  ) STRICT;
  INSERT INTO origins_next (id, name, base_url, scheme, secret, ip_binding, hash_subject, token_ttl, token_desync, link_mode, options)
    SELECT id, name, base_url, scheme, secret, ip_binding, hash_subject, token_ttl, token_desync, link_mode, options FROM origins;
  DROP TABLE origins;
  ALTER TABLE origins_next RENAME TO origins;
  `,
  },
  /* 8: playlist fetch addresses, and a lineup version that activity writes do not move */ `
  -- Every change to what a playlist is made of moves lineup_version.version (the triggers below),
  -- and the server recompiles only when it moves. Other writes, such as playlist_ips below, leave
  -- compiled playlists, remembered subscribers and ETags as they were. A table that playlists or
  -- their access rules read gets the same three triggers when it is added.
  -- IF NOT EXISTS throughout: a database whose user_version was set back (by hand, or a test) may
  -- run this step again.
  CREATE TABLE IF NOT EXISTS lineup_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
  ) STRICT;
  INSERT OR IGNORE INTO lineup_version (id, version) VALUES (1, 0);
  ${LINEUP_TABLES_AT_8.map(bumpLineupVersionOnChange).join('\n')}

  -- The addresses each subscriber's playlist was fetched from: one row per subscriber and address,
  -- written at most once per TOKEN_BUCKET (never per request), for \`lineup report sharing\`,
  -- \`lineup subscriber show\` and PLAYLIST_IP_LIMIT. Times are UTC 'YYYY-MM-DD HH:MM:SS', rounded
  -- down to the bucket; buckets counts the buckets the address fetched in.
  CREATE TABLE IF NOT EXISTS playlist_ips (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    ip            TEXT NOT NULL CHECK (ip <> '' AND length(ip) <= 45),
    first_seen    TEXT NOT NULL CHECK (first_seen IS strftime('%Y-%m-%d %H:%M:%S', first_seen)),
    last_seen     TEXT NOT NULL CHECK (last_seen IS strftime('%Y-%m-%d %H:%M:%S', last_seen)),
    buckets       INTEGER NOT NULL DEFAULT 1 CHECK (buckets >= 1),
    PRIMARY KEY (subscriber_id, ip)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS playlist_ips_last_seen ON playlist_ips (last_seen);
  `,
  /* 9: Xtream Codes logins, sealed credentials, and stable category ids */ `
  -- XC password: an HMAC of it under the server's credentials key (CREDENTIALS_KEY_FILE, kept
  -- outside the database) to check a login, and the password sealed (AES-GCM) under the same key
  -- so that \`lineup subscriber show USER --reveal\` can re-send it. key_sealed is the playlist key
  -- sealed the same way; keys issued before this step have only their hash (key_hash, which still
  -- finds them: their URLs keep working) until the next \`lineup subscriber rotate\`.
  -- A copy of the database alone reveals neither.
  ALTER TABLE subscribers ADD COLUMN xc_password_hash TEXT CHECK (xc_password_hash IS NULL OR length(xc_password_hash) = 64);
  ALTER TABLE subscribers ADD COLUMN xc_password_sealed TEXT;
  ALTER TABLE subscribers ADD COLUMN key_sealed TEXT;
  ALTER TABLE pruned_subscribers ADD COLUMN xc_password_hash TEXT;
  ALTER TABLE pruned_subscribers ADD COLUMN xc_password_sealed TEXT;
  ALTER TABLE pruned_subscribers ADD COLUMN key_sealed TEXT;

  -- One row per group_title ever used (channels.group_title, '' for channels without a group):
  -- XC apps key categories on the id, so an id never changes or moves to another group, and a
  -- group that empties and comes back gets its old id again. Filled by the triggers below,
  -- whatever writes the channel (lineup sql, lineup import, the sqlite3 shell). NOT EXISTS rather
  -- than OR IGNORE: an outer statement's conflict policy (an upsert's) overrides a trigger's.
  CREATE TABLE categories (
    id          INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 2147483647),
    group_title TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL DEFAULT (datetime('now'))
  ) STRICT;
  INSERT INTO categories (group_title)
    SELECT group_title FROM channels GROUP BY group_title ORDER BY min(coalesce(number, 2147483647)), group_title;
  CREATE TRIGGER channels_category_on_insert AFTER INSERT ON channels
  BEGIN
    INSERT INTO categories (group_title)
      SELECT NEW.group_title WHERE NOT EXISTS (SELECT 1 FROM categories WHERE group_title = NEW.group_title);
  END;
  CREATE TRIGGER channels_category_on_update AFTER UPDATE OF group_title ON channels
  BEGIN
    INSERT INTO categories (group_title)
      SELECT NEW.group_title WHERE NOT EXISTS (SELECT 1 FROM categories WHERE group_title = NEW.group_title);
  END;
  -- The XC lists carry category ids: an id changed by hand is a lineup change.
  ${bumpLineupVersionOnChange('categories')}
  `,
  /* 10: the admin API's tokens, its idempotency keys, and an audit trail of every change */ `
  -- Bearer tokens of the admin API (lineup api-token add NAME). Only the sha256 of a token is kept:
  -- it is shown once, when it is made.
  CREATE TABLE IF NOT EXISTS api_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 64 AND name NOT GLOB '*[^A-Za-z0-9_.@-]*'),
    token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    read_only  INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
  ) STRICT;

  -- The first answer to each Idempotency-Key, per token, so that a retried write is answered the
  -- same without being applied again. request_hash is the sha256 of the method, path and body.
  -- Rows older than two days are deleted by the next write that stores one.
  CREATE TABLE IF NOT EXISTS idempotency_keys (
    token_id      INTEGER NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    key           TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  TEXT NOT NULL,
    status        INTEGER NOT NULL,
    body          TEXT,
    created_at    TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY (token_id, key)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON idempotency_keys (created_at);

  -- Who changed what: one row per row changed through Lineup (the admin API, the CLI, lineup sql,
  -- the prune job), written by triggers that each Lineup connection adds (db/audit-triggers.ts).
  -- actor: 'api:TOKEN_NAME', 'cli', 'sql' or 'server'. before/after are JSON of the row, without
  -- key hashes, token hashes or origin secrets.
  CREATE TABLE IF NOT EXISTS audit_log (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL DEFAULT (datetime('now')),
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('insert', 'update', 'delete')),
    entity     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    before     TEXT CHECK (before IS NULL OR json_valid(before)),
    after      TEXT CHECK (after IS NULL OR json_valid(after))
  ) STRICT;
  CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
  CREATE INDEX IF NOT EXISTS audit_log_subject ON audit_log (entity, subject);
  `,
  /* 11: a counter of the lineup alone, so that a write to subscribers recompiles no playlist */ `
  -- lineup_version (step 8) moves on writes to subscribers too, which may change who sees what.
  -- lineup_changes moves only on writes to what playlists are compiled from, so that a server
  -- recompiles nothing when only subscribers changed (a renewal, each chunk of a prune).
  CREATE TABLE IF NOT EXISTS lineup_changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
  ) STRICT;
  INSERT OR IGNORE INTO lineup_changes (id, version) VALUES (1, 0);
  ${['channels', 'origins', 'packages', 'package_channels', 'categories'].map(bumpLineupChangesOnChange).join('\n')}
  `,
  /* 12: which subscribers changed, so that a server forgets those and keeps the rest it remembers */ `
  -- One row per change to what a playlist request reads of a subscriber (its row's id, username,
  -- expiry, enabled flag, connections and key hash; its packages), written by the triggers below
  -- whatever writes it (lineup sql, the API, a prune, the sqlite3 shell). A server that saw the log
  -- up to seq N forgets exactly the subscribers of the rows after N. AUTOINCREMENT: a seq is never
  -- given twice, even once every row has been trimmed.
  CREATE TABLE IF NOT EXISTS subscriber_changes (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_id INTEGER NOT NULL
  ) STRICT;
  -- The highest seq ever deleted from the log (by the prune job's trim, or by hand): a server that
  -- saw less than that cannot tell what it missed, and forgets every subscriber instead.
  CREATE TABLE IF NOT EXISTS subscriber_changes_trimmed (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    through_seq INTEGER NOT NULL
  ) STRICT;
  INSERT OR IGNORE INTO subscriber_changes_trimmed (id, through_seq) VALUES (1, 0);
  CREATE TRIGGER IF NOT EXISTS subscriber_changes_delete_moves_trimmed AFTER DELETE ON subscriber_changes
  BEGIN UPDATE subscriber_changes_trimmed SET through_seq = max(through_seq, OLD.seq); END;

  CREATE TRIGGER IF NOT EXISTS subscribers_insert_logs_change AFTER INSERT ON subscribers
  BEGIN INSERT INTO subscriber_changes (subscriber_id) VALUES (NEW.id); END;
  -- The old id and, when it was changed by hand, the new one. A note or an XC password logs nothing.
  CREATE TRIGGER IF NOT EXISTS subscribers_update_logs_change
  AFTER UPDATE OF id, username, expires_at, enabled, max_connections, key_hash ON subscribers
  BEGIN
    INSERT INTO subscriber_changes (subscriber_id) VALUES (OLD.id);
    INSERT INTO subscriber_changes (subscriber_id) SELECT NEW.id WHERE NEW.id IS NOT OLD.id;
  END;
  CREATE TRIGGER IF NOT EXISTS subscribers_delete_logs_change AFTER DELETE ON subscribers
  BEGIN INSERT INTO subscriber_changes (subscriber_id) VALUES (OLD.id); END;
  CREATE TRIGGER IF NOT EXISTS subscriber_packages_insert_logs_change AFTER INSERT ON subscriber_packages
  BEGIN INSERT INTO subscriber_changes (subscriber_id) VALUES (NEW.subscriber_id); END;
  CREATE TRIGGER IF NOT EXISTS subscriber_packages_update_logs_change AFTER UPDATE ON subscriber_packages
  BEGIN
    INSERT INTO subscriber_changes (subscriber_id) VALUES (OLD.subscriber_id);
    INSERT INTO subscriber_changes (subscriber_id) SELECT NEW.subscriber_id WHERE NEW.subscriber_id IS NOT OLD.subscriber_id;
  END;
  -- A package link deleted with its subscriber (a prune's cascade) is already logged by the
  -- subscriber's own row: one row per pruned subscriber, not one per package too. One deleted with
  -- its package, or by hand, is logged.
  CREATE TRIGGER IF NOT EXISTS subscriber_packages_delete_logs_change AFTER DELETE ON subscriber_packages
  WHEN EXISTS (SELECT 1 FROM subscribers WHERE id = OLD.subscriber_id)
  BEGIN INSERT INTO subscriber_changes (subscriber_id) VALUES (OLD.subscriber_id); END;
  `,
  /* 13: an XC login's own columns log a change too, so that a server forgets the login it remembers */ `
  -- What an Xtream Codes login reads of a subscriber besides what step 12 logs: its password's
  -- hash (a rotation, or the XC login taken away) and its creation time (the account's created_at).
  CREATE TRIGGER IF NOT EXISTS subscribers_xc_login_update_logs_change
  AFTER UPDATE OF xc_password_hash, created_at ON subscribers
  BEGIN INSERT INTO subscriber_changes (subscriber_id) VALUES (OLD.id); END;
  `,
  /* 14: nothing on SQLite: PostgreSQL's step 14 makes the auth backend's sessions table */ `
  -- SQLite keeps sessions in a file of their own (session-store.ts). The step is here so that both
  -- backends' schema versions keep naming the same schema (lineup db copy compares them).
  `,
  /* 15: the retired keys' index by subscriber leaves the removed keys out */ `
  -- A removed key's subscriber_id is NULL, and the index kept every one of them under that NULL in
  -- key_hash order: random places, so that a prune wrote pages all over it (0.37 pages per pruned
  -- subscriber, a sixth of its writes; docs/performance.md). Nothing looks a NULL up: the delete
  -- trigger and the foreign key ask for subscriber_id = an id, which this partial index answers.
  DROP INDEX retired_keys_subscriber;
  CREATE INDEX retired_keys_subscriber ON retired_keys (subscriber_id) WHERE subscriber_id IS NOT NULL;
  `,
];

/** The schema version this Lineup brings a database to (`PRAGMA user_version`). */
export const LATEST_SCHEMA_VERSION = migrations.length;

/**
 * Brings the schema up to date (or, for tests of one step, up to `target`), each step in its own
 * transaction.
 */
export function migrate(db: Database.Database, target = LATEST_SCHEMA_VERSION): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > LATEST_SCHEMA_VERSION) {
    throw new Error(`database schema version ${current} is newer than this Lineup (${LATEST_SCHEMA_VERSION})`);
  }
  for (let version = current; version < target; version++) {
    const step = migrations[version]!;
    const sql = typeof step === 'string' ? step : step.sql;
    const foreignKeysOff = typeof step !== 'string' && (db.pragma('foreign_keys', { simple: true }) as number) === 1;
    // Outside the transaction: SQLite ignores this pragma inside one.
    if (foreignKeysOff) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        // References broken before (by SQL run with foreign keys off) are not this step's doing.
        const brokenBefore = foreignKeysOff ? (db.pragma('foreign_key_check') as unknown[]).length : 0;
        db.exec(sql);
        const broken = foreignKeysOff ? (db.pragma('foreign_key_check') as unknown[]).length : 0;
        if (broken > brokenBefore)
          throw new Error(`migration ${version + 1} would break ${broken - brokenBefore} foreign key reference(s)`);
        db.pragma(`user_version = ${version + 1}`);
      }).immediate();
    } finally {
      if (foreignKeysOff) db.pragma('foreign_keys = ON');
    }
  }
}
