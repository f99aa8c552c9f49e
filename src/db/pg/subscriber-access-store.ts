import type pg from 'pg';
import { NotFoundError } from '../../errors.js';
import type { RetiredReason, SubscriberAccess, XcLogin } from '../../subscribers/subscriber.js';
import { type RetiredKeyRetention, retiredKeysForgottenBy } from '../retired-key-retention.js';
import { type AccessColumns, accessOf, type XcLoginColumns, xcLoginOf } from '../subscriber-rows.js';

/** The package ids as an int8[] that pg parses (connection.ts), in SQLite's order: the primary key's. */
const PACKAGE_IDS =
  'ARRAY(SELECT sp.package_id FROM subscriber_packages sp WHERE sp.subscriber_id = s.id ORDER BY sp.package_id) AS package_ids';

/** The access columns and package ids, as the admin commands' store (subscriber-store.ts) reads them too. */
export const ACCESS = `SELECT s.id, s.username, s.expires_at, s.enabled, s.max_connections, s.key_hash, ${PACKAGE_IDS} FROM subscribers s`;

/**
 * A playlist request's lookup on a cache miss: one round trip, prepared once per connection under
 * its name. Its plan on 20,000 subscribers (test/postgres/read-stores.test.ts holds it to this):
 *   Index Scan using subscribers_key_hash_key on subscribers s (the UNIQUE key_hash)
 *     SubPlan 1 -> Index Only Scan using subscriber_packages_pkey on subscriber_packages sp
 */
const FIND_ACCESS = { name: 'lineup_find_access', text: `${ACCESS} WHERE s.key_hash = $1` };
const FIND_ACCESS_BY_USERNAME = { name: 'lineup_find_access_by_username', text: `${ACCESS} WHERE s.username = $1` };
/** An XC login's columns and package ids, by username ($1). */
export const XC_LOGIN_BY_USERNAME = `SELECT s.id, s.username, s.expires_at, s.enabled, s.max_connections, s.created_at, s.xc_password_hash, ${PACKAGE_IDS}
         FROM subscribers s WHERE s.username = $1`;
const FIND_XC_LOGIN = { name: 'lineup_find_xc_login', text: XC_LOGIN_BY_USERNAME };
const RETIRED_REASON = { name: 'lineup_retired_reason', text: 'SELECT reason FROM retired_keys WHERE key_hash = $1 AND retired_at > $2' };

/** What the lookups need of a pool: one query at a time. */
export interface QueryReads {
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

export interface AccessRow extends AccessColumns {
  package_ids: number[];
}

export interface XcLoginRow extends XcLoginColumns {
  package_ids: number[];
}

/** The exact query text, for the test that asks PostgreSQL for its plan. @internal */
export const FIND_ACCESS_SQL = FIND_ACCESS.text;

/**
 * What a playlist, play or Xtream Codes request reads of a subscriber, from PostgreSQL: the same
 * plain objects as SubscriberStore's methods of the same names.
 */
export class PostgresSubscriberAccess {
  constructor(
    /** A pool, or the replica fence's reads (replica-fence.ts), which pick one per lookup. */
    private readonly pool: QueryReads,
    private readonly retention: RetiredKeyRetention,
  ) {}

  async findAccess(keyHash: string): Promise<SubscriberAccess | undefined> {
    const { rows } = await this.pool.query<AccessRow>({ ...FIND_ACCESS, values: [keyHash] });
    const row = rows[0];
    return row && accessOf(row, row.package_ids);
  }

  /** Only while the key is within its retention, as SubscriberStore.retiredReason. */
  async retiredReason(keyHash: string): Promise<RetiredReason | undefined> {
    const forgottenBy = retiredKeysForgottenBy(this.retention, this.retention.clock());
    const { rows } = await this.pool.query<{ reason: RetiredReason }>({ ...RETIRED_REASON, values: [keyHash, forgottenBy] });
    return rows[0]?.reason;
  }

  async findAccessByUsername(username: string): Promise<SubscriberAccess> {
    const { rows } = await this.pool.query<AccessRow>({ ...FIND_ACCESS_BY_USERNAME, values: [username] });
    const row = rows[0];
    if (!row) throw new NotFoundError(`no subscriber named "${username}"`);
    return accessOf(row, row.package_ids);
  }

  async findXcLogin(username: string): Promise<XcLogin | undefined> {
    const { rows } = await this.pool.query<XcLoginRow>({ ...FIND_XC_LOGIN, values: [username] });
    const row = rows[0];
    return row && xcLoginOf(row, row.package_ids);
  }
}
