import { Socket } from 'node:net';
import pg from 'pg';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { ChangedSubscribers } from '../../subscribers/remembered-access.js';
import { parseChangePayload } from './change-payload.js';
import { loggablePostgresUrl } from './url.js';

/** What the feed reports to `/metrics` (metrics.ts builds it on the process's registry). */
interface ChangeFeedMetrics {
  up(live: boolean): void;
  notified(kind: 'lineup' | 'subscribers'): void;
}

export interface ChangeFeedOptions {
  /** The primary (LINEUP_DB): a standby can neither LISTEN nor NOTIFY. */
  url: string;
  /** Where the lineup version is polled while the listen connection is down. */
  pool: pg.Pool;
  logger: Pick<Logger, 'warn' | 'info'>;
  metrics?: ChangeFeedMetrics;
  /** How often the connection is asked whether it still answers, and how long it has (tests shorten them). */
  heartbeat?: { everyMs: number; timeoutMs: number };
}

const CHANNEL = 'lineup_changes';
const LISTEN = `LISTEN ${CHANNEL}`;
const POLL_MS = 1000;
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 3000;
const CONNECT_TIMEOUT_MS = 5000;
/**
 * A failover can leave the socket half open, with no error for minutes: ask, now and then. The
 * question is LISTEN again (a no-op), so that pg_stat_activity keeps showing what the connection is.
 */
const HEARTBEAT_MS = 15_000;
const HEARTBEAT_TIMEOUT_MS = 5000;
/** Past this many ids waiting for one cache, forgetting everyone is cheaper than the list. */
const MAX_PENDING = 5000;
const NONE: readonly number[] = Object.freeze([]);

/**
 * Where things stand, read once listening: whatever commits after this read is notified. The WAL
 * position is where a standby must have replayed to show everything committed before it.
 */
const POSITION_SQL = 'SELECT (SELECT version FROM lineup_changes)::text AS version, pg_current_wal_lsn()::text AS lsn';

/**
 * What a standby must show before a subscriber read from it can be trusted: the commit of the
 * last subscriber change notified (its subscriber_changes.seq; 0 for none since listening), and
 * everything committed before the feed began listening (a WAL position on the primary). The seq
 * of the last notification, not the highest: seqs are drawn before commit, so a lower one can
 * commit later, whereas notifications arrive in commit order, the order a standby replays.
 */
export interface SubscriberFence {
  readonly seq: number;
  readonly lsn: string;
}

/**
 * One cache's view of the subscriber changes: the ids notified since its last call (empty when
 * none), or `undefined` for "forget every one" — after a `*`, after a reconnect (notifications
 * were lost meanwhile), and on every call while the feed is down, so that the cache reads
 * through rather than trust what nobody can tell it has changed.
 */
class Follower implements ChangedSubscribers {
  #pending: Set<number> | 'everyone' = new Set();

  constructor(private readonly feed: ChangeFeed) {}

  changed(): readonly number[] | undefined {
    if (!this.feed.live) return undefined;
    const pending = this.#pending;
    if (pending === 'everyone') {
      this.#pending = new Set();
      return undefined;
    }
    if (pending.size === 0) return NONE;
    this.#pending = new Set();
    return [...pending];
  }

  add(ids: readonly number[] | 'everyone'): void {
    const pending = this.#pending;
    if (pending === 'everyone') return;
    if (ids === 'everyone' || pending.size + ids.length > MAX_PENDING) {
      this.#pending = 'everyone';
      return;
    }
    for (const id of ids) pending.add(id);
  }
}

const failure = (error: unknown) => {
  const { code, message } = error as { code?: string; message?: string };
  return { code, message: message ?? String(error) };
};

/** Says goodbye to the server, but waits no more than a second for its answer. */
async function close({ client, socket }: { client: pg.Client; socket: Socket }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([client.end().catch(() => {}), new Promise((done) => (timer = setTimeout(done, 1000)))]);
  clearTimeout(timer);
  socket.destroy();
}

/**
 * This process's `LISTEN lineup_changes` on the primary, over one connection of its own (never
 * the pool's, never inside a transaction: a listener in a long transaction stops the server from
 * cleaning its notification queue). It tells each cache which subscribers changed and the node
 * which lineup version is current. When the connection is lost it says so (`live` false, every
 * follower told to forget everyone), polls the lineup version, and reconnects; lost notifications
 * cost load, never correctness.
 */
export class ChangeFeed {
  #live = false;
  #connection: { client: pg.Client; socket: Socket } | undefined;
  #stopped = false;
  #retryDelay = FIRST_RETRY_MS;
  #retryTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #polling = false;
  #lineupVersion: string | undefined;
  #subscriberFence: SubscriberFence | undefined;
  readonly #followers: Follower[] = [];
  readonly #lineupListeners = new Set<(version: string) => void>();

  constructor(private readonly options: ChangeFeedOptions) {}

  /** False while the listen connection is down (and before start, and after stop). */
  get live(): boolean {
    return this.#live;
  }

  /** Connects and listens. Fails in one line naming LINEUP_DB (never its password) when it cannot. */
  async start(): Promise<void> {
    try {
      await this.#listen();
    } catch (error) {
      const { message } = failure(error);
      throw new ConfigError(`LINEUP_DB: cannot listen for changes on ${loggablePostgresUrl(this.options.url)}: ${message}`);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#setLive(false);
    clearTimeout(this.#retryTimer);
    clearInterval(this.#pollTimer);
    clearInterval(this.#heartbeatTimer);
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) await close(connection);
  }

  /** A new cache's view of the subscriber changes, from now on: one per cache, kept for the process's life. */
  follower(): ChangedSubscribers {
    const follower = new Follower(this);
    this.#followers.push(follower);
    return follower;
  }

  /** The last lineup version notified or read (lineup_changes.version), as text. */
  lineupVersion(): string | undefined {
    return this.#lineupVersion;
  }

  /** Calls `listener` each time the lineup version moves forward; returns how to stop. */
  onLineupChange(listener: (version: string) => void): () => void {
    this.#lineupListeners.add(listener);
    return () => this.#lineupListeners.delete(listener);
  }

  /**
   * What a standby must have replayed for its subscribers to be as fresh as this process knows
   * them (undefined before the first start): the same object until something moves it.
   */
  subscriberFence(): SubscriberFence | undefined {
    return this.#subscriberFence;
  }

  /** One connection, listening and caught up; on success it is the feed's, and the feed is live. */
  async #listen(): Promise<void> {
    // Its own socket, so that a lost connection can be dropped outright: `end()` says goodbye and
    // waits for the server's, which over a half-open socket (a failover) never comes.
    const socket = new Socket();
    const client = new pg.Client({
      stream: () => socket,
      connectionString: this.options.url,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      application_name: 'lineup change feed',
    });
    client.on('notification', (message) => {
      if (message.channel === CHANNEL) this.#notified(message.payload ?? '');
    });
    const connection = { client, socket };
    const lost = (error: unknown) => this.#lost(connection, error);
    client.on('error', lost);
    client.on('end', () => lost(new Error('the listen connection ended')));
    try {
      await client.connect();
      await client.query(LISTEN);
      // Listening from here on; whatever came before is unknown, so every cache starts afresh.
      for (const follower of this.#followers) follower.add('everyone');
      const { rows } = await client.query<{ version: string; lsn: string }>(POSITION_SQL);
      this.#moveLineupVersion(rows[0]!.version);
      this.#subscriberFence = { seq: this.#subscriberFence?.seq ?? 0, lsn: rows[0]!.lsn };
      // Last, so that pg_stat_activity shows the connection as the listener (a no-op otherwise).
      await client.query(LISTEN);
    } catch (error) {
      socket.destroy();
      throw error;
    }
    if (this.#stopped) {
      await close(connection);
      return;
    }
    this.#connection = connection;
    clearInterval(this.#pollTimer);
    this.#pollTimer = undefined;
    const every = this.options.heartbeat?.everyMs ?? HEARTBEAT_MS;
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(client, lost), every).unref();
    this.#setLive(true);
  }

  #notified(payload: string): void {
    const change = parseChangePayload(payload);
    if (change.kind === 'lineup') {
      this.options.metrics?.notified('lineup');
      this.#moveLineupVersion(change.version);
      return;
    }
    if (change.kind === 'subscribers') {
      this.options.metrics?.notified('subscribers');
      if (this.#subscriberFence) this.#subscriberFence = { seq: change.seq, lsn: this.#subscriberFence.lsn };
    }
    // Something this version cannot read may have been a subscriber change: forget everyone.
    const ids = change.kind === 'subscribers' ? change.ids : 'everyone';
    for (const follower of this.#followers) follower.add(ids);
  }

  /** Versions only move forward: a notification can overtake the read that started listening. */
  #moveLineupVersion(version: string): void {
    if (this.#lineupVersion !== undefined && BigInt(version) <= BigInt(this.#lineupVersion)) return;
    this.#lineupVersion = version;
    for (const listener of this.#lineupListeners) {
      try {
        listener(version);
      } catch (error) {
        this.options.logger.warn({ err: error }, 'a lineup change listener failed');
      }
    }
  }

  #lost(connection: { client: pg.Client; socket: Socket }, error: unknown): void {
    if (connection !== this.#connection) return;
    this.#connection = undefined;
    clearInterval(this.#heartbeatTimer);
    connection.socket.destroy();
    this.#setLive(false);
    this.options.logger.warn(
      failure(error),
      'change feed down: subscriber caches read through and the lineup version is polled every second until it reconnects',
    );
    this.#pollTimer = setInterval(() => this.#poll(), POLL_MS).unref();
    void this.#poll();
    this.#retryDelay = FIRST_RETRY_MS;
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#stopped) return;
    this.#retryTimer = setTimeout(async () => {
      try {
        await this.#listen();
        if (!this.#stopped) this.options.logger.info('change feed back: listening for changes again');
      } catch {
        this.#retryDelay = Math.min(this.#retryDelay * 2, MAX_RETRY_MS);
        this.#scheduleRetry();
      }
    }, this.#retryDelay).unref();
  }

  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const { rows } = await this.options.pool.query<{ version: string }>('SELECT version::text AS version FROM lineup_changes');
      if (!this.#stopped && rows[0]) this.#moveLineupVersion(rows[0].version);
    } catch {
      // The database is down too: the next tick asks again.
    } finally {
      this.#polling = false;
    }
  }

  async #heartbeat(client: pg.Client, lost: (error: unknown) => void): Promise<void> {
    const ms = this.options.heartbeat?.timeoutMs ?? HEARTBEAT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer on the listen connection in ${ms} ms`)), ms);
    });
    try {
      await Promise.race([client.query(LISTEN), timeout]);
    } catch (error) {
      lost(error);
    } finally {
      clearTimeout(timer);
    }
  }

  #setLive(live: boolean): void {
    this.#live = live;
    this.options.metrics?.up(live);
  }
}
