import { randomBytes } from 'node:crypto';
import type { Config } from './config.js';
import { LineupStore } from './db/lineup-store.js';
import { type Db, openDatabase } from './db/open.js';
import { SettingsStore } from './db/settings-store.js';
import { SubscriberStore } from './db/subscriber-store.js';
import type { Logger } from './logger.js';
import { LineupCache } from './playlist/lineup-cache.js';
import { PlaylistService } from './playlist/playlist-service.js';
import { StreamRedirects } from './playlist/stream-redirect.js';
import { DEFAULT_ORIGIN_NAME, type Origin } from './signing/origin.js';
import { RememberedAccess } from './subscribers/remembered-access.js';
import { SubscriberAdmin } from './subscribers/subscriber-admin.js';
import { type Clock, systemClock } from './time.js';

export const GENERATED_KEY_SETTING = 'securetoken_key';
/** The PUBLIC_URL the server last started with, for admin commands run without one. */
export const SERVED_URL_SETTING = 'public_url';
/** Keys TOKEN_BUCKET's salts; generated once and kept, so that a restart within a bucket signs the same tokens. Never logged. */
const BUCKET_SECRET_SETTING = 'token_bucket_secret';

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
  playlists: PlaylistService;
  /** Redirect mode's `/play` links. */
  redirects: StreamRedirects;
  close(): void;
}

export interface ContextOptions {
  logger: Logger;
  clock?: Clock;
  /**
   * Admin commands (the CLI) pass true. A generated key is then made only if they actually sign
   * (`render`), so that `lineup sql` next to a server started with SECURETOKEN_KEY neither stores
   * a stray key nor warns about one. Without PUBLIC_URL they print URLs on the base the server
   * announced, which knows its PORT, where the command's own environment may not.
   */
  adminCommand?: boolean;
  /** Part of every ETag; workers of one cluster share the primary's. Random when absent. */
  instanceId?: string;
}

/**
 * The default origin's key: SECURETOKEN_KEY, or one generated on first use and kept in the
 * database so that it survives restarts. Only its existence is ever logged.
 */
function defaultOriginSecret(config: Config, settings: SettingsStore, logger: Logger): string {
  if (config.securetokenKey) return config.securetokenKey;
  const { value, created } = settings.getOrCreate(GENERATED_KEY_SETTING, () => randomBytes(24).toString('hex'));
  if (created) {
    logger.warn(
      `SECURETOKEN_KEY is not set: generated a random key and stored it in the settings table (name ${GENERATED_KEY_SETTING}); configure the same key on the streaming server, or set SECURETOKEN_KEY`,
    );
  }
  return value;
}

export function openContext(
  config: Config,
  { logger, clock = systemClock, adminCommand = false, instanceId }: ContextOptions,
): LineupContext {
  const db = openDatabase(config.dbPath);
  const settings = new SettingsStore(db);
  const subscribers = new SubscriberStore(db, { days: config.retiredKeyDays, clock });
  const lineupStore = new LineupStore(db);
  let secret = adminCommand ? undefined : defaultOriginSecret(config, settings, logger);
  const publicUrl = adminCommand && !config.publicUrlIsSet ? (settings.get(SERVED_URL_SETTING) ?? config.publicUrl) : config.publicUrl;
  const defaultOrigin: Origin = {
    name: DEFAULT_ORIGIN_NAME,
    baseUrl: config.originUrl,
    scheme: 'flussonic',
    get secret() {
      return (secret ??= defaultOriginSecret(config, settings, logger));
    },
    ipBinding: config.ipBinding,
    hashSubject: 'stream',
    tokenTtl: config.tokenTtl,
    tokenDesync: config.tokenDesync,
  };
  const cache = new LineupCache(lineupStore, {
    defaultOrigin,
    epgUrl: config.epgUrl,
    linkMode: config.linkMode,
    publicUrl: config.publicUrl,
  });
  const access = new RememberedAccess(subscribers, () => cache.generation, REMEMBERED_SUBSCRIBERS);
  return {
    config,
    db,
    clock,
    settings,
    subscribers,
    lineupStore,
    subscriberAdmin: new SubscriberAdmin(subscribers, publicUrl, clock),
    playlists: new PlaylistService(cache, access, clock, {
      expiredStreamUrl: config.expiredStreamUrl,
      ...(instanceId ? { instanceId } : {}),
      tokenBucket: {
        seconds: config.tokenBucket,
        secret: settings.getOrCreate(BUCKET_SECRET_SETTING, () => randomBytes(32).toString('hex')).value,
      },
    }),
    redirects: new StreamRedirects(cache, access, clock),
    close: () => db.close(),
  };
}
