-- Example: a premium tier. Channels in no package are seen by every subscriber;
-- a channel in a package is seen only by subscribers who have that package.
-- Apply after channels.sql:  npx lineup sql data/examples/packages.sql
-- Then:  npx lineup subscriber add bob --days 30 --package premium
-- Every statement is an upsert, so applying the file again changes only what was edited.
INSERT INTO packages (name, description) VALUES ('premium', 'Sport and movies')
ON CONFLICT (name) DO UPDATE SET description = excluded.description;

INSERT INTO channels (stream, name, number, group_title, tvg_id) VALUES
  ('movies/premiere', 'Premiere Movies', 504, 'Movies', 'Premiere.uk')
ON CONFLICT (stream) WHERE origin IS NULL DO UPDATE SET
  name = excluded.name, number = excluded.number, group_title = excluded.group_title, tvg_id = excluded.tvg_id;

-- A link that is already there is left alone (ON CONFLICT DO NOTHING rather than SQLite's
-- INSERT OR IGNORE, so that the file runs on PostgreSQL too).
INSERT INTO package_channels (package_id, channel_id)
  SELECT p.id, c.id FROM packages p, channels c
  WHERE p.name = 'premium' AND c.origin IS NULL AND c.stream IN ('movies/premiere', 'sport/arena1')
ON CONFLICT DO NOTHING;
