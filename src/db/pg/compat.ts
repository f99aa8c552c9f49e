/**
 * The `lineup_compat` schema: SQLite's functions as operators' scripts use them (the README's
 * renewal, `data/examples/`), so that a script written for SQLite runs unchanged on PostgreSQL,
 * where the migration puts this schema at the end of the database's search_path (psql included).
 * Kept small on purpose: each one is a promise. `INSERT OR IGNORE` and `GLOB` are syntax, not
 * functions, and cannot be shimmed.
 *
 * - `datetime(t, modifiers…)`: UTC text 'YYYY-MM-DD HH:MM:SS' as SQLite gives it; `t` is 'now' or
 *   such a text (NULL for text SQLite would not read either); modifiers '±N days' (seconds,
 *   minutes, hours, months, years) and 'start of day'. Any other modifier is refused by name
 *   rather than ignored. 'now' is the statement's time, as in SQLite.
 * - `max(a, b)`, `min(a, b)`: SQLite's scalar two-argument forms (the one-argument aggregates
 *   are PostgreSQL's own, and still work beside them).
 * - `json_valid(t)`: RFC 8259 JSON or not; the schema's CHECKs use it too (PostgreSQL 15 has no
 *   `IS JSON`).
 */
export const COMPAT_SCHEMA_SQL = String.raw`
CREATE SCHEMA lineup_compat;

CREATE FUNCTION lineup_compat.datetime(t text, VARIADIC modifiers text[] DEFAULT '{}') RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  ts timestamp;
  modifier text;
BEGIN
  IF t IS NULL THEN RETURN NULL; END IF;
  BEGIN
    -- Seconds cut, never rounded, as SQLite does: 10:20:30.9 is 10:20:30.
    ts := date_trunc('second', CASE WHEN lower(trim(t)) = 'now' THEN statement_timestamp() AT TIME ZONE 'UTC' ELSE t::timestamp END);
  EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_text_representation THEN
    RETURN NULL;
  END;
  FOREACH modifier IN ARRAY modifiers LOOP
    IF modifier ~* '^\s*[+-]?[0-9]+(\.[0-9]+)?\s+(second|minute|hour|day|month|year)s?\s*$' THEN
      ts := ts + modifier::interval;
    ELSIF lower(trim(modifier)) = 'start of day' THEN
      ts := date_trunc('day', ts);
    ELSE
      RAISE EXCEPTION 'datetime(): modifier "%" is not supported on PostgreSQL (supported: ±N seconds, minutes, hours, days, months or years; start of day)', modifier;
    END IF;
  END LOOP;
  RETURN to_char(ts, 'YYYY-MM-DD HH24:MI:SS');
END $$;

CREATE FUNCTION lineup_compat.max(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT greatest(a, b) $$;
CREATE FUNCTION lineup_compat.min(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT least(a, b) $$;

CREATE FUNCTION lineup_compat.json_valid(t text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF t IS NULL THEN RETURN NULL; END IF;
  PERFORM t::json;
  RETURN true;
EXCEPTION WHEN invalid_text_representation THEN
  RETURN false;
END $$;

-- Every session on this database finds the shims, after its own schemas. A role that sets its own
-- search_path overrides this: add lineup_compat to it there. Without the right to alter the
-- database (not its owner), the shims still exist, and say so.
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET search_path = %s, lineup_compat', current_database(), current_setting('search_path'));
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING 'lineup_compat is not on this database''s search_path (not its owner): run ALTER DATABASE % SET search_path = %, lineup_compat', current_database(), current_setting('search_path');
END $$;
`;
