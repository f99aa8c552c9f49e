-- Example: a small lineup on the default origin (ORIGIN_URL).
-- Apply with:  npx lineup sql data/examples/channels.sql
-- `stream` is the streaming server's stream name exactly as configured (no leading slash).
-- An upsert: edit a row and apply the file again, and the channel takes the new values; nothing
-- is added twice. A stream is unique per origin, and the conflict target names the one the rows
-- use (`WHERE origin IS NULL`: the default origin). Deleting a row from this file does not delete
-- the channel: DELETE it, or set enabled = 0.
INSERT INTO channels (stream, name, number, group_title, logo, tvg_id, catchup_days) VALUES
  ('bbc-one',      'BBC One',       101, 'General', 'https://logos.example.net/bbc-one.png', 'BBCOne.uk', 7),
  ('bbc-two',      'BBC Two',       102, 'General', 'https://logos.example.net/bbc-two.png', 'BBCTwo.uk', 7),
  ('live/news24',  'News 24',       206, 'News',    'https://logos.example.net/news24.png',  'News24.uk', 0),
  ('sport/arena1', 'Sport Arena 1', 305, 'Sports',  'https://logos.example.net/arena1.png',  'Arena1.uk', 3),
  ('kids/toons',   'Toons',         404, 'Kids',    '',                                      'Toons.uk',  0)
ON CONFLICT (stream) WHERE origin IS NULL DO UPDATE SET
  name = excluded.name, number = excluded.number, group_title = excluded.group_title,
  logo = excluded.logo, tvg_id = excluded.tvg_id, catchup_days = excluded.catchup_days;
