/**
 * The subscriber rules of subscribers/access.ts in SQL, for statements that filter on them. A
 * subscription has lapsed by time T when `expires_at` is at or before T; it is active at T when it
 * is enabled and has not lapsed. Each takes T as its one parameter. A test holds them to the
 * TypeScript rules on the boundary second.
 */
export const LAPSED_BY = (alias: string) => `${alias}.expires_at <= ?`;

export const ACTIVE_AT = (alias: string) => `${alias}.enabled = 1 AND ${alias}.expires_at > ?`;

/** Lapsed by T but enabled: the state `expired` of access.ts, where disabled wins over expired. */
export const EXPIRED_AT = (alias: string) => `${alias}.enabled = 1 AND ${LAPSED_BY(alias)}`;

/** Switched off, whatever the date; takes no parameter. */
export const DISABLED = (alias: string) => `${alias}.enabled = 0`;
