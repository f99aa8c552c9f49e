-- A stand-in for Flussonic's HTTP authorization backend mode (`on_play http://BACKEND/...;`), as
-- the protocol is published, not Flussonic itself. For every media request it:
--   * keeps a session per stream name, viewer IP, protocol and token (Flussonic's session_keys);
--   * asks the backend (the internal location /_lineup_flussonic) on a session's first request
--     (request_type=new_session, request_number=0) and again once the decision is older than the
--     X-AuthDuration it came with (update_session, request_number + 1), with name, proto, ip,
--     token, session_id, duration, stream_clients, total_clients and qs as query parameters;
--   * holds a 200 for X-AuthDuration and a 403 for $deny_seconds (a denied session stays banned);
--   * counts sessions per X-UserId against X-Max-Sessions: when a new session takes a user past
--     it, the oldest sessions past it are cut; a cut session asks the backend again on its next
--     request and is refused whatever the answer (by "limiter" if the backend would allow it).
-- $auth_by tells the access log who decided: "backend", "cache" (a decision still held) or
-- "limiter". A backend that does not answer 200 or 403 refuses new sessions (allow_default off)
-- and lets granted ones go on.

local sessions = ngx.shared.flussonic_sessions

local function refuse(by)
  ngx.var.auth_by = by
  return ngx.exit(ngx.HTTP_FORBIDDEN)
end

local uri = ngx.var.uri
local stream = uri:match("^/(.+)/index%.m3u8$")
  or uri:match("^/(.+)/mpegts$")
  or uri:match("^/(.+)/[^/]+%.ts$")
if not stream then return refuse("not-a-stream") end
local proto = uri:match("/mpegts$") and "mpegts" or "hls"
local ip = ngx.var.remote_addr
local token = ngx.var.arg_token
local session_id = ngx.md5(table.concat({ stream, ip, proto, token or "" }, "\n"))
local now = ngx.now()

-- A session as one string in the shared dict: decision|until|user|max|number|started|seen|cut
local function load(id)
  local text = sessions:get("s:" .. id)
  if not text then return nil end
  local f = {}
  for field in (text .. "|"):gmatch("([^|]*)|") do f[#f + 1] = field end
  return {
    decision = f[1], ["until"] = tonumber(f[2]), user = f[3], max = tonumber(f[4]),
    number = tonumber(f[5]), started = tonumber(f[6]), seen = tonumber(f[7]), cut = f[8] == "1",
  }
end

local function save(id, s)
  sessions:set("s:" .. id, table.concat({
    s.decision, s["until"], s.user or "", s.max or "", s.number, s.started, s.seen, s.cut and "1" or "0",
  }, "|"))
end

local session = load(session_id)

if session and now < session["until"] then
  if session.decision ~= "allow" then return refuse(session.cut and "limiter" or "cache") end
  session.seen = now
  save(session_id, session)
  ngx.var.auth_by = "cache"
  return
end

local new = session == nil
local args = {
  name = stream, proto = proto, ip = ip, session_id = session_id,
  request_type = new and "new_session" or "update_session",
  request_number = new and 0 or session.number + 1,
  stream_clients = 1, total_clients = 1,
  qs = ngx.var.args or "",
}
if token then args.token = token end
if not new then args.duration = math.floor(now - session.started) end
local answer = ngx.location.capture("/_lineup_flussonic", { args = args })

session = session or { started = now, number = -1 }
session.number = args.request_number
session.seen = now

if answer.status == ngx.HTTP_FORBIDDEN then
  session.decision = "deny"
  session["until"] = now + tonumber(ngx.var.deny_seconds)
  session.cut = false
  save(session_id, session)
  return refuse("backend")
end
if answer.status ~= ngx.HTTP_OK then
  ngx.log(ngx.WARN, "backend answered ", answer.status, " for session of ", stream)
  if new or session.decision ~= "allow" then return refuse("backend-down") end
  session["until"] = now + tonumber(ngx.var.deny_seconds)
  save(session_id, session)
  ngx.var.auth_by = "backend-down"
  return
end

local duration = tonumber(answer.header["X-AuthDuration"] or "") or 60
session.user = answer.header["X-UserId"]
session.max = tonumber(answer.header["X-Max-Sessions"] or "")
session["until"] = now + duration
if session.cut then
  session.decision = "deny"
  save(session_id, session)
  return refuse("limiter")
end
session.decision = "allow"
save(session_id, session)
ngx.var.auth_by = "backend"

-- Flussonic's own limiter: on a new session, the user's oldest sessions past X-Max-Sessions are cut.
if new and session.user and session.max then
  local mine = {}
  for _, key in ipairs(sessions:get_keys(0)) do
    local id = key:sub(3)
    local other = load(id)
    if other and other.user == session.user and other.decision == "allow" and not other.cut
        and other.seen > now - 2 * duration then
      mine[#mine + 1] = { id = id, s = other }
    end
  end
  table.sort(mine, function(a, b) return a.s.started > b.s.started end)
  for i = session.max + 1, #mine do
    local cut = mine[i]
    cut.s.cut = true
    cut.s["until"] = 0
    save(cut.id, cut.s)
  end
end
