-- Example: a second streaming server, and a channel served from it.
-- `secret` is that server's securetoken key; ip_binding 'none' matches ?no_check_ip=true there.
INSERT INTO origins (name, base_url, scheme, secret, ip_binding) VALUES
  ('edge2', 'http://edge2.example.net:8080', 'flussonic', 'change-me', 'strict');

INSERT INTO channels (stream, name, number, group_title, origin) VALUES
  ('music/hits', 'Hits Radio TV', 601, 'Music', 'edge2');
