import { randomBytes } from 'node:crypto';
import { ApiTokens } from './api-tokens/api-tokens.js';
import { AuthBackend } from './auth/auth-backend.js';
import { RememberedSubjects } from './auth/auth-subjects.js';
import { SessionLimiter } from './auth/session-limiter.js';
import type { Config } from './config.js';
import { loadCredentialSeal } from './credentials-key.js';
import { ApiTokenStore } from './db/api-token-store.js';
import { ApiWrites, sqliteIdempotencyRecords } from './db/api-writes.js';
import { LineupStore } from './db/lineup-store.js';
import { type Db, openDatabase } from './db/open.js';
import { PlaylistIpStore } from './db/playlist-ip-store.js';
import { openSessionDatabase, SessionStore, sessionDbPath } from './db/session-store.js';
import { SettingsStore } from './db/settings-store.js';
import { SubscriberChangeStore } from './db/subscriber-change-store.js';
import { SubscriberStore } from './db/subscriber-store.js';
import { XcCatalogStore } from './db/xc-catalog-store.js';
import { LiveGuide } from './epg/live-guide.js';
import { ConfigError } from './errors.js';
import type { Logger } from './logger.js';
import { etagInstance } from './playlist/etag-instance.js';
import { LineupCache } from './playlist/lineup-cache.js';
import { PlaylistService } from './playlist/playlist-service.js';
import { StreamRedirects } from './playlist/stream-redirect.js';
import { DEFAULT_ORIGIN_NAME, type Origin } from './signing/origin.js';
import type { AccessLookup } from './subscribers/access.js';
import type { CredentialSeal } from './subscribers/credentials.js';
import { type PlaylistIpStorage, PlaylistIps } from './subscribers/playlist-ips.js';
import { RememberedAccess, SubscriberChangeFollower } from './subscribers/remembered-access.js';
import { SubscriberAdmin } from './subscribers/subscriber-admin.js';
import { type Clock, systemClock } from './time.js';
import { XtreamService } from './xtream/xtream-service.js';

export const GENERATED_KEY_SETTING = 'securetoken_key';
/** The PUBLIC_URL the server last started with, for admin commands run without one. */
export const SERVED_URL_SETTING = 'public_url';
/** Keys TOKEN_BUCKET's salts; generated once and kept, so that a restart within a bucket signs the same tokens. Never logged. */
export const BUCKET_SECRET_SETTING = 'token_bucket_secret';

/** Without TOKEN_BUCKET, a subscriber at one address is still recorded at most once per this many seconds. */
const PLAYLIST_IP_BUCKET = 300;
/** Playlist addresses are kept this long at least (longer with a longer TOKEN_TTL): the sharing report looks back a day. */
const PLAYLIST_IP_KEEP_SECONDS = 7 * 86_400;
/** Recorded playlist addresses wait this long in memory, to be written together. */
const PLAYLIST_IP_FLUSH_MS = 1000;

/** Subscribers remembered between database changes: a few MB at most, and a whole fleet's refreshes. */
const REMEMBERED_SUBSCRIBERS = 20_000;

/** Storage and domain, wired: what `serve` and every CLI command share. */
export interface LineupContext {
  config: Config;
  db: Db;
  clock: Clock;
  settings: SettingsStore;
  subscribers: SubscriberStore;
  lineupStore: LineupStore;
  subscriberAdmin: SubscriberAdmin;
  apiTokens: ApiTokens;
  /** The admin API's writes: one transaction each, audited, answered once per Idempotency-Key. */
  apiWrites: ApiWrites;
  playlists: PlaylistService;
  /** The compiled lineup every request refreshes (recompiled only when the lineup itself changed). */
  lineup: LineupCache;
  /** Redirect mode's `/play` links. */
  redirects: StreamRedirects;
  /** Where playlists were fetched from: recorded by the playlist service, read by the CLI. */
  playlistIpStore: PlaylistIpStore;
  playlistIps: PlaylistIps;
  /** The Xtream Codes API and its stream links. */
  xtream: XtreamService;
  /** The key that seals credentials (CREDENTIALS_KEY_FILE), read on first need. */
  credentialSeal: () => CredentialSeal;
  /** The programme guide of EPG_FILE; empty until the server starts it (`guide.start`), which admin commands never do. */
  guide: LiveGuide;
  /**
   * The default origin's key. Undefined only for an admin command with SECURETOKEN_KEY unset on a
   * database where no server has generated one: such a command cannot sign.
   */
  defaultKey: DefaultKey | undefined;
  /** Viewer sessions (their own file, opened on first use: most commands never need it). */
  sessions(): SessionStore;
  /** The auth backend and its session limiter, made on first use. */
  auth(): AuthParts;
  close(): void;
}

interface AuthParts {
  backend: AuthBackend;
  limiter: SessionLimiter;
}

/** The default origin's key, and where it comes from. Only its existence is ever logged. */
export interface DefaultKey {
  value: string;
  /** SECURETOKEN_KEY is unset: the key the server generated and kept in settings. */
  generated: boolean;
  /** This process generated it just now, on the first start of a database. */
  created: boolean;
}

export interface ContextOptions {
  clock?: Clock;
  /**
   * Admin commands (the CLI) pass true. They open an existing database only, and never generate or
   * store a key: with SECURETOKEN_KEY unset they sign with the key the server generated, if any.
   * Without PUBLIC_URL they print URLs on the base the server announced, which knows its PORT,
   * where the command's own environment may not.
   */
  adminCommand?: boolean;
  /** Where a server says that writing playlist addresses failed (they are tried again). */
  logger?: Pick<Logger, 'warn'>;
  /**
   * Where the request path (playlists, `/play`) looks subscribers up by key, behind the memo of
   * them: this database's store when absent. Another store's lookups may wait (PostgreSQL's do).
   */
  subscriberLookups?: AccessLookup;
}

/**
 * The server's key: SECURETOKEN_KEY, or one generated on the first start and kept in the database
 * so that it survives restarts (housekeeping warns about it).
 */
function serverKey(config: Config, settings: SettingsStore): DefaultKey {
  if (config.securetokenKey) return { value: config.securetokenKey, generated: false, created: false };
  const { value, created } = settings.getOrCreate(GENERATED_KEY_SETTING, () => randomBytes(24).toString('hex'));
  return { value, generated: true, created };
}

/** An admin command's key: SECURETOKEN_KEY, or the one the server generated; never a new one. */
export function adminKey(config: Config, settings: Pick<SettingsStore, 'get'>): DefaultKey | undefined {
  if (config.securetokenKey) return { value: config.securetokenKey, generated: false, created: false };
  const stored = settings.get(GENERATED_KEY_SETTING);
  return stored === undefined ? undefined : { value: stored, generated: true, created: false };
}

/** The base of the URLs an admin command prints: PUBLIC_URL, or else the one the server announced. */
export function adminPublicUrl(config: Pick<Config, 'publicUrl' | 'publicUrlIsSet'>, settings: Pick<SettingsStore, 'get'>): string {
  return config.publicUrlIsSet ? config.publicUrl : (settings.get(SERVED_URL_SETTING) ?? config.publicUrl);
}

export const NO_KEY_MESSAGE =
  "SECURETOKEN_KEY is not set, and no server has generated a key in this database yet: set SECURETOKEN_KEY to the streaming server's key";

/**
 * ORIGIN_URL as the origin that channels without one of their own are signed for, with `key` as
 * its secret. Read only when a link is signed, so that a server with no key yet (no SECURETOKEN_KEY,
 * none generated) still starts and serves what needs none, and a signing says in one line why not.
 */
export function defaultOriginOf(config: Config, key: string | undefined): Origin {
  return {
    name: DEFAULT_ORIGIN_NAME,
    baseUrl: config.originUrl,
    scheme: 'flussonic',
    get secret() {
      if (!key) throw new ConfigError(NO_KEY_MESSAGE);
      return key;
    },
    ipBinding: config.ipBinding,
    hashSubject: 'stream',
    tokenTtl: config.tokenTtl,
    tokenDesync: config.tokenDesync,
  };
}

/** The settings' part of every playlist ETag, alike on every node and worker configured alike. */
export function etagInstanceOf(config: Config, key: string | undefined, bucketSecret: string): string {
  return etagInstance({
    originUrl: config.originUrl,
    publicUrl: config.publicUrl,
    linkMode: config.linkMode,
    ipBinding: config.ipBinding,
    tokenTtl: config.tokenTtl,
    tokenDesync: config.tokenDesync,
    tokenBucket: config.tokenBucket,
    epgUrl: config.epgUrl,
    expiredStreamUrl: config.expiredStreamUrl,
    key,
    bucketSecret,
  });
}

/** Where playlists are fetched from, noted over `storage` with this configuration's buckets and limits. */
export function playlistIpsOver(storage: PlaylistIpStorage, config: Config, clock: Clock, logger?: Pick<Logger, 'warn'>): PlaylistIps {
  return new PlaylistIps(storage, clock, {
    bucketSeconds: config.tokenBucket > 0 ? config.tokenBucket : PLAYLIST_IP_BUCKET,
    perConnection: config.playlistIpLimit,
    windowSeconds: config.tokenTtl,
    keepSeconds: Math.max(PLAYLIST_IP_KEEP_SECONDS, config.tokenTtl),
    flushMs: PLAYLIST_IP_FLUSH_MS,
    onWriteError: (error) =>
      logger?.warn({ err: (error as Error).message }, 'playlist addresses not written yet; trying again with the next ones'),
  });
}

export function openContext(
  config: Config,
  { clock = systemClock, adminCommand = false, logger, subscriberLookups }: ContextOptions,
): LineupContext {
  const db = openDatabase(config.dbPath, { create: !adminCommand });
  const settings = new SettingsStore(db);
  const subscribers = new SubscriberStore(db, { days: config.retiredKeyDays, clock });
  const lineupStore = new LineupStore(db);
  const defaultKey = adminCommand ? adminKey(config, settings) : serverKey(config, settings);
  const publicUrl = adminCommand ? adminPublicUrl(config, settings) : config.publicUrl;
  const defaultOrigin = defaultOriginOf(config, defaultKey?.value);
  const cache = new LineupCache(lineupStore, {
    defaultOrigin,
    epgUrl: config.epgUrl,
    linkMode: config.linkMode,
    publicUrl: config.publicUrl,
  });
  const subscriberChanges = new SubscriberChangeStore(db);
  // The lookup comes before the lineup's refresh (it may wait, on PostgreSQL), so it asks the
  // database's change marker itself: a change committed before a request was sent is still seen.
  const changedSubscribers = new SubscriberChangeFollower(subscriberChanges, () => lineupStore.changeMarkerValue());
  const access = new RememberedAccess(subscriberLookups ?? subscribers, changedSubscribers, REMEMBERED_SUBSCRIBERS);
  const playlistIpStore = new PlaylistIpStore(db);
  const playlistIps = playlistIpsOver(playlistIpStore, config, clock, logger);
  let sessionStore: SessionStore | undefined;
  const sessions = () => (sessionStore ??= new SessionStore(openSessionDatabase(sessionDbPath(config.dbPath))));
  let auth: AuthParts | undefined;
  const authParts = (): AuthParts => {
    if (auth) return auth;
    const limiter = new SessionLimiter(sessions(), {
      idleSeconds: config.authBackend.sessionIdle,
      replacedBanSeconds: config.authBackend.authDuration,
    });
    const subjects = new RememberedSubjects(
      subscribers,
      new SubscriberChangeFollower(subscriberChanges, () => cache.generation),
      REMEMBERED_SUBSCRIBERS,
    );
    return (auth = { backend: new AuthBackend(cache, subjects, limiter), limiter });
  };
  let seal: CredentialSeal | undefined;
  const credentialSeal = () => {
    seal ??= loadCredentialSeal(config.credentialsKeyFile, settings);
    return seal;
  };
  // The server reads it at start: a missing or foreign key file stops the start, not the first login.
  if (!adminCommand) credentialSeal();
  const redirects = new StreamRedirects(cache, access, clock);
  // An admin command borrows the server's, or signs with a passing one that it does not keep.
  const bucketSecret = adminCommand
    ? (settings.get(BUCKET_SECRET_SETTING) ?? randomBytes(32).toString('hex'))
    : settings.getOrCreate(BUCKET_SECRET_SETTING, () => randomBytes(32).toString('hex')).value;
  const catalog = new XcCatalogStore(db);
  const guide = new LiveGuide(config.epgFile);
  return {
    config,
    db,
    clock,
    settings,
    subscribers,
    lineupStore,
    subscriberAdmin: new SubscriberAdmin(subscribers, publicUrl, clock, credentialSeal),
    apiTokens: new ApiTokens(new ApiTokenStore(db)),
    apiWrites: new ApiWrites(sqliteIdempotencyRecords(db), clock),
    playlists: new PlaylistService(cache, access, clock, {
      expiredStreamUrl: config.expiredStreamUrl,
      instance: etagInstanceOf(config, defaultKey?.value, bucketSecret),
      playlistIps,
      tokenBucket: { seconds: config.tokenBucket, secret: bucketSecret },
    }),
    lineup: cache,
    playlistIpStore,
    playlistIps,
    redirects,
    xtream: new XtreamService(
      cache,
      {
        findXcLogin: (username) => subscribers.findXcLogin(username),
        categories: () => catalog.categories(),
        channelPlacements: () => catalog.channelPlacements(),
      },
      redirects,
      credentialSeal,
      new SubscriberChangeFollower(subscriberChanges, () => lineupStore.changeMarkerValue()),
      clock,
      {
        publicUrl: config.publicUrl,
        guide: () => guide.index,
        // The auth backend's sessions that count now: none where streaming servers do not ask Lineup.
        activeConnections: (subscriberId) => sessions().active(clock() - config.authBackend.sessionIdle, subscriberId).length,
      },
    ),
    credentialSeal,
    guide,
    defaultKey,
    sessions,
    auth: authParts,
    close: () => {
      playlistIps.stop();
      sessionStore?.close();
      db.close();
    },
  };
}
