-- Example: a premium tier. Channels in no package are seen by every subscriber;
-- a channel in a package is seen only by subscribers who have that package.
-- Apply after channels.sql:  npx lineup sql data/examples/packages.sql
-- Then:  npx lineup subscriber add bob --days 30 --package premium
INSERT INTO packages (name, description) VALUES ('premium', 'Sport and movies');

INSERT INTO channels (stream, name, number, group_title, tvg_id) VALUES
  ('movies/premiere', 'Premiere Movies', 501, 'Movies', 'Premiere.uk');

INSERT INTO package_channels (package_id, channel_id)
  SELECT p.id, c.id FROM packages p, channels c
  WHERE p.name = 'premium' AND c.stream IN ('movies/premiere', 'sport/arena1');
