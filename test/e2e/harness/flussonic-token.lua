-- A Flussonic securetoken check, written from the published securetoken spec rather than from
-- Lineup's signer, so that the end-to-end suite compares two independent readings of the spec.
--   token = lowercase_hex(sha1(stream .. ip .. start .. end .. key .. salt)) .. "-" .. salt .. "-" .. end .. "-" .. start
-- The server block sets $securetoken_key, and $no_check_ip to "1" for an origin that does not
-- bind tokens to the viewer's address.

local function deny(reason)
  -- The reason goes to error.log so that a failing test can show why; the token itself does not.
  ngx.log(ngx.WARN, "securetoken refused ", ngx.var.uri, ": ", reason)
  return ngx.exit(ngx.HTTP_FORBIDDEN)
end

local function hex(bytes)
  return (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- The stream name is everything before the last path segment, for every kind of URL that the
-- same token opens: live HLS and MPEG-TS, HLS segments, and the DVR (catch-up) paths.
local uri = ngx.var.uri
local stream = uri:match("^/(.+)/index%.m3u8$")
  or uri:match("^/(.+)/mpegts$")
  or uri:match("^/(.+)/index%-%d+%-%d+%.m3u8$")
  or uri:match("^/(.+)/timeshift_abs%-%d+%.ts$")
  or uri:match("^/(.+)/archive%-%d+%-%d+%.ts$")
  or uri:match("^/(.+)/[^/]+%.ts$")
if not stream then return deny("not a stream path") end

local token = ngx.var.arg_token or ""
local digest, salt, endtime, starttime = token:match("^([0-9a-f]+)%-([0-9a-f]+)%-(%d+)%-(%d+)$")
if not digest or #digest ~= 40 or #salt < 16 or #salt > 32 then return deny("malformed token") end

local now = ngx.time()
if now < tonumber(starttime) then return deny("not valid yet") end
if now > tonumber(endtime) then return deny("expired") end

local ip = ngx.var.no_check_ip == "1" and "no_check_ip" or ngx.var.remote_addr
local key = ngx.var.securetoken_key
if hex(ngx.sha1_bin(stream .. ip .. starttime .. endtime .. key .. salt)) ~= digest then
  return deny("hash mismatch for stream " .. stream .. " and ip " .. ip)
end
