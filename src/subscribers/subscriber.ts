import type { SqlTime } from '../time.js';

/** A subscriber as the admin CLI shows it. */
export interface Subscriber {
  id: number;
  username: string;
  expiresAt: SqlTime;
  enabled: boolean;
  maxConnections: number;
  note: string;
  createdAt: SqlTime;
  /** False for a row inserted by SQL that has not been given a key yet (`subscriber rotate`). */
  hasKey: boolean;
  /** False until an XC password is issued (`subscriber rotate-password`): such a row cannot log in with an XC app. */
  hasXcPassword: boolean;
  packages: string[];
}

/** What a playlist request needs to know about the subscriber behind a key. */
export interface SubscriberAccess {
  id: number;
  username: string;
  expiresAt: SqlTime;
  enabled: boolean;
  /** Concurrent streams sold; PLAYLIST_IP_LIMIT allows that many playlist addresses per connection. */
  maxConnections: number;
  packageIds: number[];
  /** sha256 of the playlist key (what backend tokens are tied to); absent until one is issued. */
  keyHash?: string | undefined;
}

/** What an Xtream Codes login needs: the access, the account object's fields and the password's hash. */
export interface XcLogin extends SubscriberAccess {
  maxConnections: number;
  createdAt: SqlTime;
  /** NULL: no XC password issued yet. */
  xcPasswordHash: string | null;
}

/** A subscriber's credentials as stored, sealed under the credentials key; null where none is kept. */
export interface SealedCredentials {
  /** Null for a key issued before keys were sealed: only its hash is known. */
  key: string | null;
  xcPassword: string | null;
}

/** A credential's stored forms: its hash (looked up or compared) and its sealed text (revealed). */
export interface StoredCredential {
  hash: string;
  sealed: string;
}

export interface NewSubscriber {
  username: string;
  key: StoredCredential;
  xcPassword: StoredCredential;
  expiresAt: SqlTime;
  packages: string[];
  maxConnections: number;
  note?: string;
}

/** Why a playlist key no longer works: its subscriber was given another, or was deleted. */
export type RetiredReason = 'rotated' | 'removed';

/** What the playlist answers a subscriber: 200, or 403 with one of two reasons. */
export type SubscriberState = 'active' | 'disabled' | 'expired';

/** Which subscribers a page of the list holds; every field narrows it. */
export interface SubscriberFilter {
  state?: SubscriberState;
  /** `expires_at` strictly before this time. */
  expiresBefore?: SqlTime;
  /** Holds this package. */
  package?: string;
  usernamePrefix?: string;
}

/** What an admin may change on a subscriber in one go; absent fields stay as they are. */
export interface SubscriberChange {
  enabled?: boolean;
  maxConnections?: number;
  note?: string;
  /** The whole set of packages it holds afterwards. */
  packages?: string[];
}
