import type { SubscriberAccess, XcLogin } from '../subscribers/subscriber.js';

/** The columns of a subscriber that its access is made of, as both backends select them. */
export interface AccessColumns {
  id: number;
  username: string;
  expires_at: string;
  enabled: number;
  max_connections: number;
  key_hash: string | null;
}

/** What an Xtream Codes login reads: the access columns but the key (a login has none), and more. */
export interface XcLoginColumns extends Omit<AccessColumns, 'key_hash'> {
  created_at: string;
  xc_password_hash: string | null;
}

/** A row as a SubscriberAccess; the package ids come as each backend aggregates them. */
export function accessOf(row: AccessColumns, packageIds: number[]): SubscriberAccess {
  return {
    id: row.id,
    username: row.username,
    expiresAt: row.expires_at,
    enabled: row.enabled === 1,
    maxConnections: row.max_connections,
    packageIds,
    ...(row.key_hash === null ? {} : { keyHash: row.key_hash }),
  };
}

export function xcLoginOf(row: XcLoginColumns, packageIds: number[]): XcLogin {
  return {
    ...accessOf({ ...row, key_hash: null }, packageIds),
    maxConnections: row.max_connections,
    createdAt: row.created_at,
    xcPasswordHash: row.xc_password_hash,
  };
}
