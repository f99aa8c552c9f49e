-- Example: a small lineup on the default origin (ORIGIN_URL).
-- Apply with:  npx lineup sql data/examples/channels.sql
-- `stream` is the streaming server's stream name exactly as configured (no leading slash).
INSERT INTO channels (stream, name, number, group_title, logo, tvg_id, catchup_days) VALUES
  ('bbc-one',      'BBC One',      101, 'General', 'https://logos.example.net/bbc-one.png', 'BBCOne.uk',  7),
  ('bbc-two',      'BBC Two',      102, 'General', 'https://logos.example.net/bbc-two.png', 'BBCTwo.uk',  7),
  ('live/news24',  'News 24',      201, 'News',    'https://logos.example.net/news24.png',  'News24.uk',  0),
  ('sport/arena1', 'Sport Arena 1', 301, 'Sport',  'https://logos.example.net/arena1.png',  'Arena1.uk',  3),
  ('kids/toons',   'Toons',        401, 'Kids',    '',                                      'Toons.uk',   0);
