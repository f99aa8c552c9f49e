import { BlockList, isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import cron from 'node-cron';
import { z } from 'zod';
import { isPostgresUrl } from './db/pg/url.js';
import { ConfigError } from './errors.js';
import { fromHome, LINEUP_HOME } from './home.js';
import { DUAL_STACK_HOST } from './http/listen.js';
import { IP_BINDINGS, LINK_MODES } from './signing/origin.js';

/** PLAYLIST_IP_LIMIT's default: addresses are recorded, never refused. */
const PLAYLIST_IP_LIMIT_OFF = 'off';

/** PRUNE_CRON's value that leaves pruning to another node, or to `lineup prune`. */
const PRUNE_OFF = 'off';

const integer = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .default(String(fallback))
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const httpUrl = z
  .string()
  .trim()
  .url('must be an http(s) URL')
  .refine((value) => /^https?:\/\//i.test(value), 'must start with http:// or https://')
  .refine((value) => !/[\s,"]/.test(value), 'must not contain spaces, commas or quotes')
  .transform((value) => value.replace(/\/+$/, ''));

/** `TRUST_PROXY`: comma-separated addresses or CIDRs of reverse proxies. */
const trustProxy = z
  .string()
  .default('')
  .transform((value, ctx) => {
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    const list = new BlockList();
    for (const entry of entries) {
      const [address = '', prefix] = entry.split('/');
      const family = isIP(address);
      const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
      if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32)) {
        ctx.addIssue({ code: 'custom', message: `"${entry}" is not an IP address or CIDR` });
        return z.NEVER;
      }
      list.addSubnet(address, bits, family === 6 ? 'ipv6' : 'ipv4');
    }
    return { entries, list };
  });

/** ADMIN_HOST's default: this machine only, so that an admin listener is never public by accident. */
const ADMIN_HOST_DEFAULT = '127.0.0.1';

/** WORKERS beyond this are a typo more likely than a machine. */
const MAX_WORKERS = 64;

/** Addresses the key-guess limiter remembers at most (about 100 bytes each). */
const GUESS_TRACKED_ADDRESSES = 100_000;

/**
 * TOKEN_BUCKET's default: five minutes of identical output (ETag/304, cached bytes) per subscriber
 * and IP, for at most five minutes less life on a token, under 3% of the default three hours.
 * A short TOKEN_TTL shortens it to a tenth of the TTL, so that setting the TTL alone never fails.
 */
const DEFAULT_TOKEN_BUCKET = 300;
const defaultTokenBucket = (ttl: number) => Math.min(DEFAULT_TOKEN_BUCKET, Math.floor(ttl / 10));

const schema = z
  .object({
    LINEUP_DB: z
      .string()
      .trim()
      .min(1)
      .default('data/lineup.db')
      .describe(
        "SQLite file, taken from Lineup's home directory when relative; only lineup serve and lineup init create it. Or a PostgreSQL database as a postgres:// URL, shared by several nodes: lineup serve, init, sql, db copy, subscriber, prune, import, lint, render, report, demo, api-token, audit and sessions run on it (db backup and restore are SQLite's: pg_dump)",
      ),
    LINEUP_DB_REPLICA: z
      .string()
      .trim()
      .refine(isPostgresUrl, 'must be a postgres:// URL')
      .optional()
      .describe(
        'a PostgreSQL standby near this node (a postgres:// URL) that subscriber lookups read from once it has replayed the changes this node was told of; the lineup, writes and the change feed stay on LINEUP_DB',
      ),
    LINEUP_DB_POOL: integer(4, 1, 100).describe(
      'connections each serving process keeps to PostgreSQL (and as many to LINEUP_DB_REPLICA); the change feed holds one more. Ignored on SQLite',
    ),
    HOST: z
      .string()
      .trim()
      .min(1)
      .default(DUAL_STACK_HOST)
      .describe('address to listen on; :: takes IPv6 and IPv4 clients (dual-stack), falling back to 0.0.0.0 where the system has no IPv6'),
    PORT: integer(8080, 0, 65535).describe('port to listen on'),
    PUBLIC_URL: httpUrl.optional().describe('base of the playlist URLs the CLI prints and of redirect-mode links'),
    ORIGIN_URL: httpUrl.default('http://localhost').describe('base URL of the default streaming server'),
    SECURETOKEN_KEY: z.string().min(1, 'must not be empty').optional().describe("the default origin's securetoken key"),
    CREDENTIALS_KEY_FILE: z
      .string()
      .trim()
      .min(1)
      .optional()
      .describe(
        'file holding the key that seals XC passwords and playlist keys in the database (created on first need; default: LINEUP_DB with .key appended, data/lineup.db.key when LINEUP_DB is a postgres:// URL); keep it and back it up apart from the database',
      ),
    TOKEN_TTL: integer(10800, 60).describe('token lifetime in seconds (minimum 60)'),
    TOKEN_DESYNC: integer(300, 0).describe('seconds by which starttime is backdated, for clock skew'),
    TOKEN_BUCKET: z
      .string()
      .trim()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .optional()
      .describe('seconds during which a subscriber at one IP gets the same tokens'),
    IP_BINDING: z.enum(IP_BINDINGS).default('strict').describe("whether tokens are bound to the client's address"),
    TRUST_PROXY: trustProxy.describe('comma-separated addresses/CIDRs of reverse proxies whose X-Forwarded-For is believed'),
    PRUNE_CRON: z
      .string()
      .trim()
      .default('0 * * * *')
      .describe('node-cron expression of the prune job, in UTC')
      .refine((value) => value === PRUNE_OFF || cron.validate(value), `is not a valid cron expression (or ${PRUNE_OFF})`),
    PRUNE_GRACE_DAYS: integer(7, 0, 36500).describe('days after expiry before a subscriber is deleted (0 allowed)'),
    PRUNE_KEEP_DAYS: integer(30, 1, 36500).describe(
      'days a pruned subscriber stays restorable (lineup subscriber restore) before the prune job deletes it for good',
    ),
    PRUNE_MAX_GAP_DAYS: integer(2, 1, 36500).describe(
      'days the clock may run ahead of the last time Lineup saw it before a prune that would remove anyone is refused',
    ),
    PRUNE_MAX_SHARE: integer(10, 0, 100).describe(
      'percent of the subscribers one prune run may remove (at least one); more is refused, 100 turns the check off',
    ),
    RETIRED_KEY_DAYS: integer(90, 1, 36500).describe(
      "days a removed, pruned or rotated subscriber's old URL keeps its answer (410 Gone, or 403 replaced) and never counts as a key guess",
    ),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino level'),
    METRICS_TOKEN: z
      .string()
      .min(16, 'must be at least 16 characters')
      .optional()
      .describe('bearer token that /metrics wants (16+ characters)'),
    ADMIN_HOST: z.string().trim().min(1).optional().describe('address of the admin listener (needs ADMIN_PORT)'),
    ADMIN_PORT: z
      .string()
      .trim()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(0).max(65535))
      .optional()
      .describe('port of a second listener that serves /metrics without METRICS_TOKEN, and the admin API'),
    GUESS_LIMIT: integer(20, 1).describe('unknown-key lookups allowed per address (IPv6: per /64) within GUESS_WINDOW'),
    GUESS_WINDOW: integer(600, 1).describe('seconds over which failed lookups are counted'),
    GUESS_BLOCK: integer(900, 1).describe('seconds a blocked address is answered 429 with Retry-After'),
    PLAYLIST_CONCURRENCY_PER_KEY: integer(20, 1).describe(
      'playlist responses in flight at once for one key; one more is answered 429 with Retry-After',
    ),
    PLAYLIST_CONCURRENCY_PER_ADDRESS: integer(64, 1).describe(
      'playlist responses in flight at once for one client address (IPv6: per /64); one more is answered 429 with Retry-After',
    ),
    SEND_TIMEOUT: integer(60, 1, 3600).describe(
      'seconds a client may take to receive a playlist before its connection is reset, and any connection may go without taking a byte of its response',
    ),
    PLAYLIST_IP_LIMIT: z
      .string()
      .trim()
      .default(PLAYLIST_IP_LIMIT_OFF)
      .refine((value) => value === PLAYLIST_IP_LIMIT_OFF || /^\d+$/.test(value), `must be a whole number or ${PLAYLIST_IP_LIMIT_OFF}`)
      .transform((value) => (value === PLAYLIST_IP_LIMIT_OFF ? undefined : Number(value)))
      .pipe(z.number().int().min(1).max(1000).optional())
      .describe(
        "addresses per max_connections a subscriber's playlist may be fetched from within TOKEN_TTL; a further address is answered 403 with a reason (off: none refused)",
      ),
    LINK_MODE: z.enum(LINK_MODES).default('direct').describe('what playlists link to'),
    EPG_URL: httpUrl.optional().describe('XMLTV guide URL put in the playlist header as url-tvg and x-tvg-url'),
    EPG_FILE: z
      .string()
      .trim()
      .min(1)
      .default('data/epg.xml')
      .describe(
        'XMLTV guide, plain or gzip (or EPG_FILE.gz next to it): served at /epg.xml, and loaded as the programme guide, again whenever it changes',
      ),
    EPG_SOURCE_URL: httpUrl
      .optional()
      .describe(
        'XMLTV guide (plain or gzip) fetched into EPG_FILE at start and on EPG_FETCH_CRON; a failed fetch keeps the last good guide',
      ),
    EPG_FETCH_CRON: z
      .string()
      .trim()
      .default('30 */6 * * *')
      .describe('node-cron expression, in UTC, of the EPG_SOURCE_URL fetch')
      .refine((value) => cron.validate(value), 'is not a valid cron expression'),
    EXPIRED_STREAM_URL: httpUrl.optional().describe("where an expired subscriber's one-entry playlist points"),
    AUTH_DURATION: integer(60, 1, 86_400).describe(
      'seconds a streaming server keeps an auth-backend decision before asking again (X-AuthDuration); a replaced session stays refused this long',
    ),
    SESSION_IDLE: z
      .string()
      .trim()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(2).max(86_400))
      .optional()
      .describe('seconds after which a silent stream session no longer counts toward max_connections (default 2 × AUTH_DURATION)'),
    FLUSSONIC_API_URL: httpUrl
      .optional()
      .describe(
        "Flussonic's base URL for closing a revoked subscriber's sessions at once (DELETE /streamer/api/v3/sessions/ID); user:password@ in it is sent as Basic auth",
      ),
    FLUSSONIC_API_TOKEN: z.string().min(1).optional().describe('bearer token for FLUSSONIC_API_URL'),
    WORKERS: z
      .string()
      .trim()
      .default('1')
      .transform((value) => (value === 'auto' ? String(availableParallelism()) : value))
      .pipe(z.string().regex(/^\d+$/, 'must be a whole number or auto').transform(Number).pipe(z.number().int().min(1).max(MAX_WORKERS)))
      .describe('processes serving HTTP on the one port, for more cores'),
  })
  .superRefine((env, ctx) => {
    if (env.ADMIN_HOST !== undefined && env.ADMIN_PORT === undefined) {
      ctx.addIssue({ code: 'custom', path: ['ADMIN_HOST'], message: 'is set but ADMIN_PORT is not: the admin listener needs a port' });
    }
    if (env.LINEUP_DB_REPLICA !== undefined && !isPostgresUrl(env.LINEUP_DB)) {
      ctx.addIssue({
        code: 'custom',
        path: ['LINEUP_DB_REPLICA'],
        message: 'is set but LINEUP_DB is not a postgres:// URL: a standby is for PostgreSQL',
      });
    }
    if (env.FLUSSONIC_API_TOKEN !== undefined && env.FLUSSONIC_API_URL === undefined) {
      ctx.addIssue({ code: 'custom', path: ['FLUSSONIC_API_TOKEN'], message: 'is set but FLUSSONIC_API_URL is not' });
    }
    if (env.TOKEN_BUCKET !== undefined && env.TOKEN_BUCKET >= env.TOKEN_TTL) {
      ctx.addIssue({ code: 'custom', path: ['TOKEN_BUCKET'], message: `must be less than TOKEN_TTL (${env.TOKEN_TTL})` });
    }
  })
  .transform((env) => ({
    dbPath: env.LINEUP_DB,
    /** Undefined: subscriber lookups read LINEUP_DB. */
    replicaUrl: env.LINEUP_DB_REPLICA,
    poolSize: env.LINEUP_DB_POOL,
    host: env.HOST,
    port: env.PORT,
    publicUrl: env.PUBLIC_URL ?? `http://localhost:${env.PORT}`,
    publicUrlIsSet: env.PUBLIC_URL !== undefined,
    originUrl: env.ORIGIN_URL,
    securetokenKey: env.SECURETOKEN_KEY,
    // A URL is no file name (and may hold a password): SQLite's default key, which a database
    // copied from SQLite was sealed with.
    credentialsKeyFile: env.CREDENTIALS_KEY_FILE ?? (isPostgresUrl(env.LINEUP_DB) ? 'data/lineup.db.key' : `${env.LINEUP_DB}.key`),
    tokenTtl: env.TOKEN_TTL,
    tokenDesync: env.TOKEN_DESYNC,
    tokenBucket: env.TOKEN_BUCKET ?? defaultTokenBucket(env.TOKEN_TTL),
    ipBinding: env.IP_BINDING,
    trustProxy: env.TRUST_PROXY,
    /** Undefined: no schedule in this process. */
    pruneCron: env.PRUNE_CRON === PRUNE_OFF ? undefined : env.PRUNE_CRON,
    pruneGraceDays: env.PRUNE_GRACE_DAYS,
    pruneKeepDays: env.PRUNE_KEEP_DAYS,
    pruneMaxGapDays: env.PRUNE_MAX_GAP_DAYS,
    pruneMaxSharePercent: env.PRUNE_MAX_SHARE,
    retiredKeyDays: env.RETIRED_KEY_DAYS,
    logLevel: env.LOG_LEVEL,
    metricsToken: env.METRICS_TOKEN,
    /** Undefined: no admin listener. */
    admin: env.ADMIN_PORT === undefined ? undefined : { host: env.ADMIN_HOST ?? ADMIN_HOST_DEFAULT, port: env.ADMIN_PORT },
    guessLimits: {
      maxFailures: env.GUESS_LIMIT,
      windowSeconds: env.GUESS_WINDOW,
      blockSeconds: env.GUESS_BLOCK,
      maxTracked: GUESS_TRACKED_ADDRESSES,
    },
    playlistConcurrency: {
      perKey: env.PLAYLIST_CONCURRENCY_PER_KEY,
      perAddress: env.PLAYLIST_CONCURRENCY_PER_ADDRESS,
      sendTimeoutSeconds: env.SEND_TIMEOUT,
    },
    sendTimeoutSeconds: env.SEND_TIMEOUT,
    /** Undefined: playlist addresses are recorded, never refused. */
    playlistIpLimit: env.PLAYLIST_IP_LIMIT,
    linkMode: env.LINK_MODE,
    epgUrl: env.EPG_URL,
    epgFile: env.EPG_FILE,
    /** Undefined: the guide is whatever the operator puts in EPG_FILE. */
    epgSource: env.EPG_SOURCE_URL === undefined ? undefined : { url: env.EPG_SOURCE_URL, cron: env.EPG_FETCH_CRON },
    expiredStreamUrl: env.EXPIRED_STREAM_URL,
    workers: env.WORKERS,
    authBackend: {
      authDuration: env.AUTH_DURATION,
      sessionIdle: env.SESSION_IDLE ?? 2 * env.AUTH_DURATION,
      /** Undefined: revocation waits for the streaming server's next check. */
      flussonicApi: env.FLUSSONIC_API_URL === undefined ? undefined : { url: env.FLUSSONIC_API_URL, token: env.FLUSSONIC_API_TOKEN },
    },
  }));

export type Config = z.output<typeof schema>;

/** One variable the schema reads: its default as written in the environment (undefined: none), and what it means. */
interface ConfigVariable {
  name: string;
  default: string | undefined;
  description: string;
}

/**
 * Every variable Lineup reads, in the schema's order: what the README's configuration table
 * documents, and what the test that holds the table to the schema reads.
 * @internal
 */
export function configVariables(): ConfigVariable[] {
  return Object.entries(schema.in.shape).map(([name, type]) => ({ name, default: rawDefault(type), description: type.description ?? '' }));
}

/** What leaving a variable unset gives, as text, before any transform reads it. */
function rawDefault(type: z.ZodType): string | undefined {
  if (type instanceof z.ZodDefault) return String(type.def.defaultValue);
  if (type instanceof z.ZodPipe) return rawDefault(type.in as z.ZodType);
  return undefined;
}

/**
 * Reads and validates the environment once, at start. Empty variables count as unset. Relative
 * paths are taken from Lineup's home (tests pass another), never from the current directory, so
 * that the server and a command run anywhere reach the same files.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, home = LINEUP_HOME): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = schema.safeParse(present);
  if (parsed.success) {
    return {
      ...parsed.data,
      dbPath: fromHome(parsed.data.dbPath, home),
      epgFile: fromHome(parsed.data.epgFile, home),
      credentialsKeyFile: fromHome(parsed.data.credentialsKeyFile, home),
    };
  }
  const issue = parsed.error.issues[0];
  const variable = String(issue?.path[0] ?? 'environment');
  // The value itself is not echoed: it may be a key.
  throw new ConfigError(`${variable} ${issue?.message ?? 'is invalid'}`);
}
