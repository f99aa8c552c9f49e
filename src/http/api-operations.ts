import type * as z from 'zod';
import type { ApiToken } from '../api-tokens/api-tokens.js';
import type { SessionRecord } from '../auth/session-limiter.js';
import type { AuditEntry, AuditQuery as AuditRead } from '../db/audit-store.js';
import type { CatalogReads } from '../db/catalog-store.js';
import { BadInputError } from '../errors.js';
import type { Finding } from '../lint/lint.js';
import { stateOf } from '../subscribers/access.js';
import type { Subscriber as SubscriberRecord } from '../subscribers/subscriber.js';
import { DEFAULT_SUBSCRIPTION_DAYS, parseSince, parseUntil, type SubscriberAdmin, type Term } from '../subscribers/subscriber-admin.js';
import { type Clock, type SqlTime, toSqlTime } from '../time.js';
import {
  AuditList,
  AuditQuery,
  ChannelList,
  ClosedSessions,
  CreateSubscriber,
  DEFAULT_PAGE,
  FindingList,
  IssuedSubscriber,
  PackageList,
  Renewal,
  SessionList,
  SessionQuery,
  Subscriber,
  SubscriberPage,
  SubscriberPatch,
  SubscriberQuery,
  UsernameParams,
} from './api-schemas.js';

/** What the operations read and change. */
export interface ApiServices {
  subscriberAdmin: SubscriberAdmin;
  catalog: CatalogReads;
  lint: () => Finding[];
  audit: (query: AuditRead) => AuditEntry[];
  clock: Clock;
  /** Viewer sessions, as the auth backend counts them. */
  sessions: {
    active(since: number, subscriberId?: number): SessionRecord[];
    end(ids: readonly number[], reason: 'revoked', at: number): void;
  };
  /** SESSION_IDLE: a session silent longer no longer counts. */
  sessionIdleSeconds: number;
  /** Usernames by subscriber id, for the sessions list. */
  usernames: () => Map<number, string>;
}

interface Input<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  token: ApiToken;
}

/**
 * One operation of the admin API: its route, the schemas that validate its input, its answer, and
 * what it does. The router (api-routes.ts) and the OpenAPI document (api-document.ts) are both
 * made from this one list, so they cannot drift apart.
 */
export interface Operation<P = unknown, Q = unknown, B = unknown> {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Under /api/v1, OpenAPI style: `/subscribers/{username}`. */
  path: string;
  operationId: string;
  summary: string;
  tag: 'Subscribers' | 'Sessions' | 'Lineup' | 'Audit';
  /** Changes something: needs a read-write token, honours Idempotency-Key, runs in one transaction. */
  write: boolean;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  success: { status: 200 | 201 | 204; description: string; schema?: z.ZodType };
  /** Error statuses it may answer besides those every operation may (400, 401, 429). */
  problems: number[];
  handle(services: ApiServices, input: Input<P, Q, B>): unknown;
}

function operation<P, Q, B>(definition: Operation<P, Q, B>): Operation {
  return definition as unknown as Operation;
}

/** SQL's UTC text as ISO 8601. */
const iso = (time: SqlTime) => `${time.replace(' ', 'T')}Z`;

function subscriberJson(subscriber: SubscriberRecord, now: number): z.output<typeof Subscriber> {
  return {
    username: subscriber.username,
    state: stateOf(subscriber, now),
    expires_at: iso(subscriber.expiresAt),
    enabled: subscriber.enabled,
    max_connections: subscriber.maxConnections,
    note: subscriber.note,
    packages: subscriber.packages,
    created_at: iso(subscriber.createdAt),
    has_key: subscriber.hasKey,
  };
}

function termOf(body: { days?: number | undefined; until?: string | undefined }): Term | undefined {
  if (body.until !== undefined) return { until: parseUntil(body.until) };
  return body.days === undefined ? undefined : { days: body.days };
}

/** Within the message of a parse error, the API's field name rather than the CLI's option. */
function asField<T>(field: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof BadInputError && /^--[a-z-]+:/.test(error.message)) {
      throw new BadInputError(error.message.replace(/^--[a-z-]+/, field));
    }
    throw error;
  }
}

/** A cursor is the last username of the page before, opaque to clients. */
const cursorOf = (username: string) => Buffer.from(username, 'utf8').toString('base64url');
function afterOf(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const username = Buffer.from(cursor, 'base64url').toString('utf8');
  if (username === '' || cursorOf(username) !== cursor) throw new BadInputError('cursor: not a next_cursor this API gave');
  return username;
}

export const OPERATIONS: Operation[] = [
  operation({
    method: 'get',
    path: '/subscribers',
    operationId: 'listSubscribers',
    summary: 'List subscribers, a page at a time, by username',
    tag: 'Subscribers',
    write: false,
    query: SubscriberQuery,
    success: { status: 200, description: 'a page of subscribers', schema: SubscriberPage },
    problems: [],
    handle: ({ subscriberAdmin, clock }, { query }) => {
      const limit = query.limit ?? DEFAULT_PAGE;
      const filter = {
        ...(query.state ? { state: query.state } : {}),
        ...(query.expires_before !== undefined
          ? { expiresBefore: asField('expires_before', () => parseUntil(query.expires_before!)) }
          : {}),
        ...(query.package !== undefined ? { package: query.package } : {}),
        ...(query.username_prefix !== undefined ? { usernamePrefix: query.username_prefix } : {}),
      };
      // One more than the page: whether there is a next page, without a count.
      const found = subscriberAdmin.page(filter, afterOf(query.cursor), limit + 1);
      const items = found.slice(0, limit);
      const now = clock();
      return {
        items: items.map((subscriber) => subscriberJson(subscriber, now)),
        next_cursor: found.length > limit ? cursorOf(items.at(-1)!.username) : null,
      };
    },
  }),
  operation({
    method: 'post',
    path: '/subscribers',
    operationId: 'createSubscriber',
    summary: 'Create a subscriber; the answer holds its playlist URL and Xtream Codes login, this once',
    tag: 'Subscribers',
    write: true,
    body: CreateSubscriber,
    success: { status: 201, description: 'created', schema: IssuedSubscriber },
    problems: [403, 409, 415, 422],
    handle: ({ subscriberAdmin, clock }, { body }) => {
      const { subscriber, url, xcPassword } = asField('until', () =>
        subscriberAdmin.add({
          username: body.username,
          term: termOf(body) ?? { days: DEFAULT_SUBSCRIPTION_DAYS },
          packages: body.packages ?? [],
          maxConnections: body.max_connections ?? 1,
          ...(body.note !== undefined ? { note: body.note } : {}),
        }),
      );
      return {
        subscriber: subscriberJson(subscriber, clock()),
        playlist_url: url,
        xtream: { username: subscriber.username, password: xcPassword },
      };
    },
  }),
  operation({
    method: 'get',
    path: '/subscribers/{username}',
    operationId: 'getSubscriber',
    summary: 'One subscriber',
    tag: 'Subscribers',
    write: false,
    params: UsernameParams,
    success: { status: 200, description: 'the subscriber', schema: Subscriber },
    problems: [404],
    handle: ({ subscriberAdmin, clock }, { params }) => subscriberJson(subscriberAdmin.find(params.username), clock()),
  }),
  operation({
    method: 'patch',
    path: '/subscribers/{username}',
    operationId: 'updateSubscriber',
    summary: 'Enable or disable (suspend), set packages, max_connections and note',
    tag: 'Subscribers',
    write: true,
    params: UsernameParams,
    body: SubscriberPatch,
    success: { status: 200, description: 'the subscriber as changed', schema: Subscriber },
    problems: [403, 404, 415, 422],
    handle: ({ subscriberAdmin, clock }, { params, body }) =>
      subscriberJson(
        subscriberAdmin.change(params.username, {
          ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
          ...(body.max_connections !== undefined ? { maxConnections: body.max_connections } : {}),
          ...(body.note !== undefined ? { note: body.note } : {}),
          ...(body.packages !== undefined ? { packages: body.packages } : {}),
        }),
        clock(),
      ),
  }),
  operation({
    method: 'delete',
    path: '/subscribers/{username}',
    operationId: 'deleteSubscriber',
    summary: 'Delete a subscriber for good; its playlist URL then answers 410 Gone',
    tag: 'Subscribers',
    write: true,
    params: UsernameParams,
    success: { status: 204, description: 'deleted' },
    problems: [403, 404, 422],
    handle: ({ subscriberAdmin }, { params }) => {
      subscriberAdmin.remove(params.username);
      return undefined;
    },
  }),
  operation({
    method: 'post',
    path: '/subscribers/{username}/renew',
    operationId: 'renewSubscriber',
    summary: 'Renew by days (from the current expiry, or from now if it has passed) or to a date',
    tag: 'Subscribers',
    write: true,
    params: UsernameParams,
    body: Renewal,
    success: { status: 200, description: 'the subscriber as renewed', schema: Subscriber },
    problems: [403, 404, 415, 422],
    handle: ({ subscriberAdmin, clock }, { params, body }) =>
      subscriberJson(
        asField('until', () => subscriberAdmin.renew(params.username, termOf(body)!)),
        clock(),
      ),
  }),
  operation({
    method: 'post',
    path: '/subscribers/{username}/rotate-key',
    operationId: 'rotateSubscriberKey',
    summary: 'Issue a new playlist URL; the old one stops working at once',
    tag: 'Subscribers',
    write: true,
    params: UsernameParams,
    success: { status: 200, description: 'the new playlist URL, this once', schema: IssuedSubscriber },
    problems: [403, 404, 422],
    handle: ({ subscriberAdmin, clock }, { params }) => {
      const { subscriber, url } = subscriberAdmin.rotate(params.username);
      return { subscriber: subscriberJson(subscriber, clock()), playlist_url: url };
    },
  }),
  operation({
    method: 'get',
    path: '/sessions',
    operationId: 'listSessions',
    summary: 'Who is watching now: the stream sessions that count toward max_connections (lineup sessions)',
    tag: 'Sessions',
    write: false,
    query: SessionQuery,
    success: { status: 200, description: 'the sessions open and seen within SESSION_IDLE', schema: SessionList },
    problems: [404],
    handle: ({ sessions, sessionIdleSeconds, subscriberAdmin, usernames, clock }, { query }) => {
      const now = clock();
      const only = query.username === undefined ? undefined : subscriberAdmin.find(query.username);
      const found = sessions.active(now - sessionIdleSeconds, only?.id);
      const names = only ? new Map([[only.id, only.username]]) : found.length > 0 ? usernames() : new Map<number, string>();
      return {
        items: found.map((session) => ({
          username: names.get(session.subscriberId) ?? `#${session.subscriberId}`,
          ip: session.ip,
          stream: session.stream,
          proto: session.proto,
          via: session.dialect,
          started_at: iso(toSqlTime(session.startedAt)),
          last_seen: iso(toSqlTime(session.lastSeen)),
        })),
      };
    },
  }),
  operation({
    method: 'delete',
    path: '/subscribers/{username}/sessions',
    operationId: 'closeSubscriberSessions',
    summary: "Close a subscriber's sessions: they stop counting toward max_connections at once",
    tag: 'Sessions',
    write: true,
    params: UsernameParams,
    success: { status: 200, description: 'how many sessions were closed', schema: ClosedSessions },
    problems: [403, 404, 422],
    handle: ({ sessions, sessionIdleSeconds, subscriberAdmin, clock }, { params }) => {
      const now = clock();
      const { id } = subscriberAdmin.find(params.username);
      const open = sessions.active(now - sessionIdleSeconds, id);
      sessions.end(
        open.map((session) => session.id),
        'revoked',
        now,
      );
      return { closed: open.length };
    },
  }),
  operation({
    method: 'get',
    path: '/packages',
    operationId: 'listPackages',
    summary: 'Packages, with how many channels and subscribers each holds',
    tag: 'Lineup',
    write: false,
    success: { status: 200, description: 'every package', schema: PackageList },
    problems: [],
    handle: ({ catalog }) => ({ items: catalog.listPackages() }),
  }),
  operation({
    method: 'get',
    path: '/channels',
    operationId: 'listChannels',
    summary: "Channels in the playlist's order, with their packages",
    tag: 'Lineup',
    write: false,
    success: { status: 200, description: 'every channel, enabled or not', schema: ChannelList },
    problems: [],
    handle: ({ catalog }) => ({
      items: catalog.listChannels().map(({ groupTitle, ...channel }) => ({ ...channel, group_title: groupTitle })),
    }),
  }),
  operation({
    method: 'get',
    path: '/lint',
    operationId: 'listLintFindings',
    summary: "The lineup's lint findings (lineup lint)",
    tag: 'Lineup',
    write: false,
    success: { status: 200, description: 'every finding', schema: FindingList },
    problems: [],
    handle: ({ lint }) => ({
      items: lint().map(({ channelIds, ...finding }) => ({ ...finding, channel_ids: channelIds })),
    }),
  }),
  operation({
    method: 'get',
    path: '/audit',
    operationId: 'listAudit',
    summary: 'Who changed what (lineup audit), oldest first',
    tag: 'Audit',
    write: false,
    query: AuditQuery,
    success: { status: 200, description: 'the newest changes that match', schema: AuditList },
    problems: [],
    handle: ({ audit }, { query }) => ({
      items: audit({
        limit: query.limit ?? DEFAULT_PAGE,
        ...(query.username !== undefined ? { username: query.username } : {}),
        ...(query.since !== undefined ? { since: asField('since', () => parseSince(query.since!)) } : {}),
      }).map((entry) => ({ ...entry, at: iso(entry.at) })),
    }),
  }),
];
