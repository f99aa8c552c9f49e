import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { AuthBackend } from './auth/auth-backend.js';
import { RememberedSubjects } from './auth/auth-subjects.js';
import { SessionLimiter } from './auth/session-limiter.js';
import type { Config } from './config.js';
import {
  BUCKET_SECRET_SETTING,
  type DefaultKey,
  defaultOriginOf,
  etagInstanceOf,
  GENERATED_KEY_SETTING,
  NO_KEY_MESSAGE,
  playlistIpsOver,
  SERVED_URL_SETTING,
} from './context.js';
import { loadCredentialSeal } from './credentials-key.js';
import { ChangeFeed } from './db/pg/change-feed.js';
import { openPostgresPool } from './db/pg/connection.js';
import { postgresHealth } from './db/pg/health.js';
import { PostgresLineupMirror } from './db/pg/lineup-mirror.js';
import { readLineupSnapshot } from './db/pg/lineup-snapshot.js';
import { migratePostgres } from './db/pg/migrations.js';
import { PostgresPlaylistIpStore } from './db/pg/playlist-ip-store.js';
import { ReplicaFence } from './db/pg/replica-fence.js';
import { PostgresSessionStore } from './db/pg/session-store.js';
import { PostgresSettingsStore } from './db/pg/settings-store.js';
import { PostgresSubscriberAccess } from './db/pg/subscriber-access-store.js';
import { postgresSubscriberCounter } from './db/pg/subscriber-counts.js';
import { unavailableOnFailure } from './db/pg/unavailable.js';
import { loggablePostgresUrl } from './db/pg/url.js';
import { LiveGuide } from './epg/live-guide.js';
import { ConfigError } from './errors.js';
import { authAnswerer } from './http/auth-routes.js';
import type { MetricsExposition } from './http/metrics-routes.js';
import { startRevocationSweep } from './jobs/revocation-sweep.js';
import type { Logger } from './logger.js';
import { changeFeedMetrics, createMetrics, gaugeStreamSessions, gaugeSubscriberStates, type LineupMetrics } from './metrics.js';
import { LineupCache } from './playlist/lineup-cache.js';
import { PlaylistService } from './playlist/playlist-service.js';
import { StreamRedirects } from './playlist/stream-redirect.js';
import { startPostgresApiThread } from './postgres-api-thread.js';
import { startPostgresChores } from './postgres-chores.js';
import { flushSessionsEvery, listenLineup } from './server.js';
import { RememberedAccess } from './subscribers/remembered-access.js';
import { type Clock, systemClock, toSqlTime } from './time.js';
import { XtreamService } from './xtream/xtream-service.js';

/** Subscribers remembered between their changes, as on SQLite (context.ts). */
const REMEMBERED_SUBSCRIBERS = 20_000;

export interface RunningNode {
  metrics: LineupMetrics;
  url: string;
  /** Where the admin listener (the admin API, /metrics) listens, when ADMIN_PORT is set. */
  adminUrl?: string;
  /** The demo subscriber's URL, only on the first start of an empty database with --demo. */
  demoUrl?: string;
  /** Stops accepting, lets requests in flight finish, stops listening for changes, closes the pool. */
  stop(): Promise<void>;
}

export interface NodeOptions {
  logger: Logger;
  clock?: Clock;
  /** `lineup serve --demo`: seeds the demo lineup and subscriber on an empty database. */
  seedDemo?: boolean;
  /**
   * A cluster worker's (WORKERS > 1): its registry, and `/metrics` answered for the whole cluster;
   * its primary does the chores (startPostgresHousekeeping), so the worker does none.
   */
  worker?: { metrics: LineupMetrics; metricsExposition: MetricsExposition };
}

/** What every process on the database opens first: a pool, the schema at this Lineup's version, and the secrets every node shares. */
interface OpenedDatabase {
  pool: pg.Pool;
  settings: PostgresSettingsStore;
  defaultKey: DefaultKey;
  bucketSecret: string;
}

async function openDatabase(config: Config): Promise<OpenedDatabase> {
  const pool = openPostgresPool(config.dbPath, { max: config.poolSize });
  try {
    await migratePostgres(pool).catch((error: unknown) => {
      throw new ConfigError(`LINEUP_DB: cannot migrate ${loggablePostgresUrl(config.dbPath)}: ${(error as Error).message}`);
    });
    const settings = new PostgresSettingsStore(pool);
    const defaultKey = await serverKey(config, settings);
    const bucketSecret = (await settings.getOrCreate(BUCKET_SECRET_SETTING, () => randomBytes(32).toString('hex'))).value;
    return { pool, settings, defaultKey, bucketSecret };
  } catch (error) {
    await pool.end();
    throw error;
  }
}

/**
 * A cluster primary's part on PostgreSQL (WORKERS > 1): the schema and the shared secrets before
 * any worker races to them, and the chores once for its workers, which serve.
 */
export async function startPostgresHousekeeping(
  config: Config,
  { logger, metrics, seedDemo, clock = systemClock }: { logger: Logger; metrics: LineupMetrics; seedDemo: boolean; clock?: Clock },
): Promise<{ demoUrl?: string; stop(): Promise<void> }> {
  const { pool, settings, defaultKey } = await openDatabase(config);
  try {
    await settings.set(SERVED_URL_SETTING, config.publicUrl);
    // Made (or checked) here, before the workers: several first starts at once would each make one.
    await loadCredentialSeal(config.credentialsKeyFile, settings);
    const chores = await startPostgresChores({ config, pool, settings, defaultKey, clock, logger, metrics, seedDemo });
    return {
      ...(chores.demoUrl ? { demoUrl: chores.demoUrl } : {}),
      stop: async () => {
        await chores.stop();
        await pool.end();
      },
    };
  } catch (error) {
    await pool.end();
    throw error;
  }
}

/**
 * One Lineup node on a PostgreSQL database that other nodes share: it migrates the schema (under
 * the migrations' advisory lock, so nodes may start together), reads the lineup once, listens for
 * changes, and serves playlists, redirect links, the Xtream Codes API, the auth backend (its
 * sessions shared by every node, db/pg/session-store.ts) and with ADMIN_PORT the admin API (its
 * operations on a thread of their own, postgres-api-thread.ts). What a node remembers (the compiled
 * lineup, subscribers by key) is forgotten as the change feed says, so a revocation on any node, or by
 * psql, holds on every node within a notification's delay, and its open sessions are swept
 * (jobs/revocation-sweep.ts, on every node, each session ended by one). Once it listens it starts its chores
 * (postgres-chores.ts: prune, demo seed, signing record, change-log trim), stopped before the pool closes.
 */
export async function startPostgresNode(
  config: Config,
  { logger, clock = systemClock, seedDemo = false, worker }: NodeOptions,
): Promise<RunningNode> {
  const url = config.dbPath;
  const { pool, settings, defaultKey, bucketSecret } = await openDatabase(config);
  const replica = config.replicaUrl === undefined ? undefined : openPostgresPool(config.replicaUrl, { max: config.poolSize });
  const metrics = worker?.metrics ?? createMetrics();
  const closing: (() => Promise<void> | void)[] = [() => pool.end(), () => replica?.end()];
  const close = async () => {
    for (const step of closing.reverse()) await step();
  };
  try {
    const key = defaultKey.value;
    // Last writer wins: nodes behind one load balancer announce the same PUBLIC_URL.
    await settings.set(SERVED_URL_SETTING, config.publicUrl);
    // The file the admin commands seal with (CREDENTIALS_KEY_FILE): missing or foreign, the start stops.
    const seal = await loadCredentialSeal(config.credentialsKeyFile, settings);

    const feed = new ChangeFeed({ url, pool, logger, metrics: changeFeedMetrics(metrics) });
    await feed.start();
    closing.push(() => feed.stop());
    const mirror = new PostgresLineupMirror(
      () => readLineupSnapshot(pool),
      () => feed.lineupVersion(),
      (error) => logger.warn({ err: (error as Error).message }, 'the lineup could not be read again; serving the one held'),
    );
    await mirror.load();

    const defaultOrigin = defaultOriginOf(config, key);
    const lineup = new LineupCache(mirror, {
      defaultOrigin,
      epgUrl: config.epgUrl,
      linkMode: config.linkMode,
      publicUrl: config.publicUrl,
    });
    const reads = unavailableOnFailure(replica ? new ReplicaFence(feed, replica, pool).reads : pool);
    const subscribers = new PostgresSubscriberAccess(reads, { days: config.retiredKeyDays, clock });
    const access = new RememberedAccess(subscribers, feed.follower(), REMEMBERED_SUBSCRIBERS);
    const playlistIps = playlistIpsOver(new PostgresPlaylistIpStore(pool), config, clock, logger);
    // Before the pool closes: the last batch of addresses is written on the way out.
    closing.push(() => playlistIps.stop());
    const playlists = new PlaylistService(lineup, access, clock, {
      expiredStreamUrl: config.expiredStreamUrl,
      instance: etagInstanceOf(config, key, bucketSecret),
      playlistIps,
      tokenBucket: { seconds: config.tokenBucket, secret: bucketSecret },
    });
    const countSubscribers = postgresSubscriberCounter(pool);
    gaugeSubscriberStates(metrics, () => countSubscribers(toSqlTime(clock())));
    const health = postgresHealth(pool, feed);
    closing.push(() => health.stop());
    const { sessionIdle, authDuration } = config.authBackend;
    // Sessions on the primary, shared by every node, so that max_connections holds across them.
    const sessions = new PostgresSessionStore(pool);
    const limiter = new SessionLimiter(sessions, { idleSeconds: sessionIdle, replacedBanSeconds: authDuration });
    const subjects = new RememberedSubjects(subscribers, feed.follower(), REMEMBERED_SUBSCRIBERS);
    const backend = new AuthBackend(lineup, subjects, limiter);
    gaugeStreamSessions(metrics, () => sessions.counts(clock() - sessionIdle));
    // Before the pool closes (after the listener): the last sightings are written on the way out.
    const flusher = flushSessionsEvery(limiter, clock, logger);
    closing.push(() => flusher.stop());
    // On every node: a session is ended, and Flussonic asked to close it, by the one whose end took it.
    const revocation = startRevocationSweep({
      backend,
      sessions,
      subscriberChanges: feed.follower(),
      clock,
      logger,
      idleSeconds: sessionIdle,
      flussonicApi: config.authBackend.flussonicApi,
    });
    closing.push(() => revocation.stop());
    const guide = new LiveGuide(config.epgFile);
    const redirects = new StreamRedirects(lineup, access, clock);
    const xtream = new XtreamService(
      lineup,
      {
        findXcLogin: (username) => subscribers.findXcLogin(username),
        categories: () => mirror.categories(),
        channelPlacements: () => mirror.channelPlacements(),
      },
      redirects,
      () => seal,
      feed.follower(),
      clock,
      {
        publicUrl: config.publicUrl,
        guide: () => guide.index,
        // A count shown by the app, not a decision: 0 rather than a 503 while the database does not answer.
        activeConnections: (subscriberId) => sessions.activeCount(clock() - sessionIdle, subscriberId).catch(() => 0),
      },
    );
    // The admin API's operations wait on PostgreSQL on a thread of their own, never on this event loop.
    const adminThread = config.admin
      ? await startPostgresApiThread(
          {
            config: {
              dbPath: config.dbPath,
              retiredKeyDays: config.retiredKeyDays,
              credentialsKeyFile: config.credentialsKeyFile,
              publicUrl: config.publicUrl,
              publicUrlIsSet: config.publicUrlIsSet,
            },
            sessionIdleSeconds: sessionIdle,
          },
          clock,
          logger,
        )
      : undefined;
    if (adminThread) closing.push(() => adminThread.stop());
    const http = await listenLineup(
      {
        config,
        clock,
        playlists,
        redirects,
        xtream,
        auth: authAnswerer(backend, clock, metrics, { authDuration }),
        guide,
        health: health.problem,
        healthDetails: health.details,
        ...(adminThread ? { adminApi: (guessLimiter) => ({ runner: adminThread, guessLimiter }) } : {}),
      },
      { logger, metrics, ...(worker ? { metricsExposition: worker.metricsExposition } : {}) },
    );
    closing.push(() => http.stop());
    const urls = { url: http.url, ...(http.adminUrl ? { adminUrl: http.adminUrl } : {}) };
    if (worker) return { metrics, ...urls, stop: once(close) };
    const chores = await startPostgresChores({ config, pool, settings, defaultKey, clock, logger, metrics, seedDemo });
    // Before the pool closes, after the listeners: a prune in progress ends between two chunks.
    closing.push(() => chores.stop());
    return { metrics, ...urls, ...(chores.demoUrl ? { demoUrl: chores.demoUrl } : {}), stop: once(close) };
  } catch (error) {
    await close();
    throw error;
  }
}

/** SECURETOKEN_KEY, or the key the first node generated and kept in the shared settings (as context.ts's serverKey on SQLite). */
async function serverKey(config: Config, settings: PostgresSettingsStore): Promise<DefaultKey> {
  if (config.securetokenKey) return { value: config.securetokenKey, generated: false, created: false };
  const { value, created } = await settings.getOrCreate(GENERATED_KEY_SETTING, () => randomBytes(24).toString('hex'));
  if (!value) throw new ConfigError(NO_KEY_MESSAGE);
  return { value, generated: true, created };
}

/** The first call's promise, for every call. */
function once(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= run());
}
