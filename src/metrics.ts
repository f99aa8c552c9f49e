import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SubscriberState } from './subscribers/subscriber.js';

/**
 * What an operator watches on `/metrics`. Each running Lineup has its own registry (never
 * prom-client's global one), so that several servers can run in one process, as tests do.
 */
export interface LineupMetrics {
  registry: Registry;
  /** Playlist requests by outcome: the HTTP status (200, 304, 403, 404, 429, 503, …). */
  playlistRequests: Counter<'outcome'>;
  /** Redirect mode's `/play` requests and the Xtream Codes stream links by outcome: 302, or the refusal (403, 404, 410, 429, …). */
  playRequests: Counter<'outcome'>;
  /** Seconds from routing to a rendered playlist, for requests answered 200. */
  renderSeconds: Histogram;
  /** Unknown or malformed keys, and wrong Xtream Codes logins: what a guesser produces. */
  lookupFailures: Counter;
  /** Requests refused with 429 because their address guessed too often. */
  rateLimited: Counter;
  pruneDeletions: Counter;
  /** Prune runs that failed (a busy database, say) and wait for the next tick. */
  pruneFailures: Counter;
  /** Prune runs that removed nobody because the clock or the count looked wrong, by reason (clock_gap, share). */
  pruneRefusals: Counter<'reason'>;
  /** Prune runs that ended at once, by reason: `held` (on PostgreSQL, another node was pruning the database). */
  pruneSkips: Counter<'reason'>;
  /** Auth-backend refusals by reason (stream-check.ts, DENY_REASONS). */
  authDenials: Counter<'reason'>;
  /** Auth-backend checks by dialect and outcome (allow, deny). */
  authChecks: Counter<'dialect' | 'outcome'>;
  /** Seconds an auth-backend decision takes, from the parsed request to the answer. */
  authDecisionSeconds: Histogram;
}

export function createMetrics(): LineupMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    playlistRequests: new Counter({
      name: 'lineup_playlist_requests_total',
      help: 'Playlist requests by outcome (HTTP status)',
      labelNames: ['outcome'],
      registers,
    }),
    playRequests: new Counter({
      name: 'lineup_play_requests_total',
      help: 'Redirect-mode /play and Xtream Codes stream-link requests by outcome (HTTP status: 302 or the refusal)',
      labelNames: ['outcome'],
      registers,
    }),
    renderSeconds: new Histogram({
      name: 'lineup_playlist_render_seconds',
      help: 'Time to look up the subscriber and render a playlist (200 answers)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    lookupFailures: new Counter({
      name: 'lineup_playlist_lookup_failures_total',
      help: 'Playlist requests whose key is unknown or malformed, and Xtream Codes logins that are wrong',
      registers,
    }),
    rateLimited: new Counter({
      name: 'lineup_rate_limited_requests_total',
      help: 'Requests refused with 429 after too many failed key lookups from their address',
      registers,
    }),
    pruneDeletions: new Counter({
      name: 'lineup_prune_deleted_subscribers_total',
      help: 'Subscribers deleted by the prune job',
      registers,
    }),
    pruneFailures: new Counter({
      name: 'lineup_prune_failures_total',
      help: 'Prune runs that failed and wait for the next tick',
      registers,
    }),
    pruneRefusals: new Counter({
      name: 'lineup_prune_refusals_total',
      help: 'Prune runs refused because the clock or the share of subscribers looked wrong (lineup prune --confirm-clock)',
      labelNames: ['reason'],
      registers,
    }),
    pruneSkips: new Counter({
      name: 'lineup_prune_skipped_total',
      help: 'Prune runs that ended at once, by reason (held: another node on the PostgreSQL database held the prune lock)',
      labelNames: ['reason'],
      registers,
    }),
    authDenials: new Counter({
      name: 'lineup_auth_denials_total',
      help: 'Auth-backend checks refused, by reason',
      labelNames: ['reason'],
      registers,
    }),
    authChecks: new Counter({
      name: 'lineup_auth_checks_total',
      help: 'Auth-backend checks by dialect (flussonic, cesbo, nginx) and outcome (allow, deny)',
      labelNames: ['dialect', 'outcome'],
      registers,
    }),
    authDecisionSeconds: new Histogram({
      name: 'lineup_auth_decision_seconds',
      help: 'Time to decide an auth-backend check',
      buckets: [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025, 0.1],
      registers,
    }),
  };
}

/**
 * `lineup_stream_sessions` and `lineup_streaming_subscribers`: sessions that count toward
 * max_connections now, and the subscribers holding them, counted at scrape time from the sessions
 * every process shares (so the cluster reports one count, not a sum).
 */
export function gaugeStreamSessions(
  metrics: LineupMetrics,
  count: () => { sessions: number; subscribers: number } | Promise<{ sessions: number; subscribers: number }>,
): void {
  new Gauge({
    name: 'lineup_stream_sessions',
    help: 'Stream sessions that count toward max_connections now (auth backend)',
    registers: [metrics.registry],
    aggregator: 'first',
    async collect() {
      this.set((await count()).sessions);
    },
  });
  new Gauge({
    name: 'lineup_streaming_subscribers',
    help: 'Subscribers with at least one stream session now (auth backend)',
    registers: [metrics.registry],
    aggregator: 'first',
    async collect() {
      this.set((await count()).subscribers);
    },
  });
}

/** How many subscribers are in each state at one moment. */
export type SubscriberCounts = Readonly<Record<SubscriberState, number>>;

const SUBSCRIBER_STATES: readonly SubscriberState[] = ['active', 'expired', 'disabled'];

/**
 * `lineup_subscribers{state}`, counted when scraped rather than kept up to date: the CLI, SQL
 * scripts and the clock change the states, and none of them tell this process. `count` comes from
 * storage, so that this module holds no SQL.
 */
export function gaugeSubscriberStates(metrics: LineupMetrics, count: () => SubscriberCounts | Promise<SubscriberCounts>): void {
  new Gauge({
    name: 'lineup_subscribers',
    help: 'Subscribers by state (active, expired, disabled), counted at scrape time',
    labelNames: ['state'],
    registers: [metrics.registry],
    // With WORKERS > 1 every worker counts the one database: the cluster reports one count, not
    // their sum.
    aggregator: 'first',
    async collect() {
      const counts = await count();
      for (const state of SUBSCRIBER_STATES) this.set({ state }, counts[state]);
    },
  });
}

/**
 * `lineup_change_feed_up` (1 while the PostgreSQL change feed listens, 0 while its caches read
 * through) and `lineup_change_notifications_total{kind}` (lineup, subscribers), for a node on
 * PostgreSQL; shaped as the feed's ChangeFeedMetrics.
 */
export function changeFeedMetrics(metrics: LineupMetrics): {
  up(live: boolean): void;
  notified(kind: 'lineup' | 'subscribers'): void;
} {
  const registers = [metrics.registry];
  const up = new Gauge({
    name: 'lineup_change_feed_up',
    help: 'Whether the PostgreSQL change feed is listening (1); 0 while subscriber caches read through',
    // With WORKERS > 1 each worker listens: the cluster is up only while every worker is.
    aggregator: 'min',
    registers,
  });
  const notifications = new Counter({
    name: 'lineup_change_notifications_total',
    help: 'Change notifications received from PostgreSQL, by kind (lineup, subscribers)',
    labelNames: ['kind'],
    registers,
  });
  up.set(0);
  for (const kind of ['lineup', 'subscribers']) notifications.inc({ kind }, 0);
  return {
    up: (live) => up.set(live ? 1 : 0),
    notified: (kind) => notifications.inc({ kind }),
  };
}
