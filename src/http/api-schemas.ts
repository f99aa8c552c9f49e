import * as z from 'zod';
import { isValidUsername, MAX_CONNECTIONS_LIMIT, MAX_TERM_DAYS, USERNAME, USERNAME_RULE } from '../subscribers/subscriber-admin.js';

/**
 * The admin API's contract: the zod schemas that validate every request, and from which
 * api-document.ts generates the OpenAPI document. Request objects are strict (an unknown field is a
 * 400) and every string, number and list has its limit here; the subscriber rules behind the
 * limits (username, term, connections) are the domain's, imported.
 */

const MAX_NOTE = 1000;
const MAX_PACKAGES = 100;
const MAX_NAME = 100;
/** The largest page of the list. */
const MAX_PAGE = 500;
export const DEFAULT_PAGE = 100;

const packageName = z
  .string()
  .min(1)
  .max(MAX_NAME)
  .meta({ description: 'a package name', examples: ['sports'] });
const days = z
  .int()
  .min(1)
  .max(MAX_TERM_DAYS)
  .meta({ description: 'days the subscription runs: from now, or on renewal from the current expiry if still ahead', examples: [30] });
const until = z
  .string()
  .min(10)
  .max(40)
  .meta({
    description: 'end of the subscription, UTC: YYYY-MM-DD (the end of that day), YYYY-MM-DD HH:MM:SS, or ISO 8601 with an offset',
    examples: ['2027-01-31'],
  });
const maxConnections = z
  .int()
  .min(1)
  .max(MAX_CONNECTIONS_LIMIT)
  .meta({ description: 'concurrent streams allowed', examples: [2] });
const note = z.string().max(MAX_NOTE).meta({ description: "the operator's note, e.g. the billing system's customer id" });
const packages = z.array(packageName).max(MAX_PACKAGES);
const isoTime = z.iso.datetime().meta({ examples: ['2027-01-31T23:59:59Z'] });

export const UsernameParams = z.strictObject({
  username: z
    .string()
    .min(1)
    .max(64)
    .meta({ description: "the subscriber's username", examples: ['alice'] }),
});

export const CreateSubscriber = z
  .strictObject({
    username: z
      .string()
      .regex(USERNAME)
      .refine(isValidUsername, { message: USERNAME_RULE })
      .meta({ description: USERNAME_RULE, examples: ['alice'] }),
    days: days.optional(),
    until: until.optional(),
    packages: packages.optional().meta({ description: 'packages it holds (none: it sees the channels in no package)' }),
    max_connections: maxConnections.optional().meta({ description: 'concurrent streams allowed (default 1)' }),
    note: note.optional(),
  })
  .refine((body) => body.days === undefined || body.until === undefined, { message: 'give days or until, not both', path: ['until'] })
  .meta({ id: 'CreateSubscriber', description: 'A new subscriber; without days or until, it runs 30 days.' });

export const Renewal = z
  .strictObject({ days: days.optional(), until: until.optional() })
  .refine((body) => (body.days === undefined) !== (body.until === undefined), { message: 'give days or until (one of them)' })
  .meta({ id: 'Renewal', description: 'Extend by days (from the current expiry, or from now if it has passed), or set the end.' });

export const SubscriberPatch = z
  .strictObject({
    enabled: z.boolean().optional().meta({ description: 'false suspends: the playlist answers 403 until true' }),
    max_connections: maxConnections.optional(),
    note: note.optional(),
    packages: packages.optional().meta({ description: 'the whole set of packages it holds afterwards' }),
  })
  .meta({ id: 'SubscriberPatch', description: 'Fields to change, all in one transaction; absent fields stay.' });

export const SubscriberQuery = z.strictObject({
  state: z.enum(['active', 'disabled', 'expired']).optional().meta({ description: 'only subscribers in this state now' }),
  expires_before: until.optional().meta({ description: 'only subscribers whose expiry is before this time (same formats as until)' }),
  package: packageName.optional().meta({ description: 'only subscribers holding this package' }),
  username_prefix: z.string().min(1).max(64).optional().meta({ description: 'only usernames that start with this text' }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE)
    .optional()
    .meta({ description: `page size (default ${DEFAULT_PAGE})` }),
  cursor: z.string().min(1).max(400).optional().meta({ description: 'next_cursor of the previous page' }),
});

export const AuditQuery = z.strictObject({
  username: z.string().min(1).max(64).optional().meta({ description: "only this subscriber's changes" }),
  since: until.optional().meta({ description: 'only changes at or after this time (same formats as until)' }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE)
    .optional()
    .meta({ description: `the newest this many (default ${DEFAULT_PAGE})` }),
});

export const SessionQuery = z.strictObject({
  username: z.string().min(1).max(64).optional().meta({ description: "only this subscriber's sessions" }),
});

export const IdempotencyHeader = z.strictObject({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/)
    .optional()
    .meta({ description: 'a unique key per intended change (a UUID): a retry with the same key and body is answered as the first time' }),
});

export const Subscriber = z
  .object({
    username: z.string(),
    state: z.enum(['active', 'disabled', 'expired']).meta({ description: 'disabled wins over expired' }),
    expires_at: isoTime,
    enabled: z.boolean(),
    max_connections: z.int(),
    note: z.string(),
    packages: z.array(z.string()),
    created_at: isoTime,
    has_key: z.boolean().meta({ description: 'false for a row SQL inserted without a key: rotate-key issues one' }),
  })
  .meta({ id: 'Subscriber' });

export const IssuedSubscriber = z
  .object({
    subscriber: Subscriber,
    playlist_url: z.url().meta({ description: 'the personal playlist URL: shown this once, only its hash is kept' }),
    xtream: z
      .object({ username: z.string(), password: z.string() })
      .optional()
      .meta({ description: 'Xtream Codes login for apps that want one instead of a URL: on create only, shown this once' }),
  })
  .meta({ id: 'IssuedSubscriber' });

/** A list answer: `{ items: [...] }`, named in the document as `id`. */
function listOf<Item extends z.ZodType>(id: string, item: Item) {
  return z.object({ items: z.array(item) }).meta({ id });
}

export const SubscriberPage = z
  .object({
    items: z.array(Subscriber),
    next_cursor: z.string().nullable().meta({ description: 'pass as cursor for the next page; null on the last page' }),
  })
  .meta({ id: 'SubscriberPage' });

export const PackageList = listOf(
  'PackageList',
  z
    .object({ name: z.string(), description: z.string(), channels: z.int(), subscribers: z.int() })
    .meta({ id: 'Package', description: 'A channel in a package is seen only by its subscribers.' }),
);

export const ChannelList = listOf(
  'ChannelList',
  z
    .object({
      id: z.int(),
      stream: z.string(),
      name: z.string(),
      number: z.int().nullable(),
      group_title: z.string(),
      enabled: z.boolean(),
      origin: z.string().nullable(),
      packages: z.array(z.string()).meta({ description: 'empty: every subscriber sees it' }),
    })
    .meta({ id: 'Channel' }),
);

export const FindingList = listOf(
  'FindingList',
  z
    .object({ severity: z.enum(['error', 'warning']), code: z.string(), message: z.string(), channel_ids: z.array(z.int()) })
    .meta({ id: 'Finding' }),
);

export const AuditList = listOf(
  'AuditList',
  z
    .object({
      id: z.int(),
      at: isoTime,
      actor: z.string().meta({ description: 'api:TOKEN_NAME, cli, sql or server' }),
      action: z.enum(['insert', 'update', 'delete']),
      entity: z.string(),
      subject: z.string(),
      before: z.record(z.string(), z.unknown()).nullable(),
      after: z.record(z.string(), z.unknown()).nullable(),
    })
    .meta({ id: 'AuditEntry' }),
);

export const SessionList = listOf(
  'SessionList',
  z
    .object({
      username: z.string(),
      ip: z.string(),
      stream: z.string(),
      proto: z.string(),
      via: z.enum(['flussonic', 'cesbo', 'nginx']).meta({ description: "the streaming server's dialect" }),
      started_at: isoTime,
      last_seen: isoTime,
    })
    .meta({ id: 'Session' }),
);

export const ClosedSessions = z
  .object({ closed: z.int().meta({ description: 'sessions that were open and are closed now' }) })
  .meta({ id: 'ClosedSessions' });

export const Problem = z
  .object({
    type: z.string().meta({ description: 'stable per error class', examples: ['urn:lineup:problem:not-found'] }),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'for invalid-request: each field at fault' }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });
