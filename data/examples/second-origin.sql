-- Example: a second streaming server, and a channel served from it.
-- `secret` is that server's securetoken key; ip_binding 'none' matches ?no_check_ip=true there.
-- Upserts: applying the file again updates the origin and the channel instead of failing.
INSERT INTO origins (name, base_url, scheme, secret, ip_binding) VALUES
  ('edge2', 'http://edge2.example.net:8080', 'flussonic', 'change-me', 'strict')
ON CONFLICT (name) DO UPDATE SET
  base_url = excluded.base_url, scheme = excluded.scheme, secret = excluded.secret, ip_binding = excluded.ip_binding;

INSERT INTO channels (stream, name, number, group_title, origin) VALUES
  ('music/hits', 'Hits Radio TV', 801, 'Music', 'edge2')
ON CONFLICT (origin, stream) WHERE origin IS NOT NULL DO UPDATE SET
  name = excluded.name, number = excluded.number, group_title = excluded.group_title;
