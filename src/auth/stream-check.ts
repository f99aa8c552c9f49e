/**
 * What a streaming server asks the auth backend, in any dialect (Flussonic, Cesbo, nginx), and
 * what it is answered.
 */

export type Dialect = 'flussonic' | 'cesbo' | 'nginx';

export interface StreamCheck {
  dialect: Dialect;
  /** The `token` of the viewer's URL; undefined when it had none. */
  token: string | undefined;
  /** The viewer's address, normalised; undefined when missing or not an address. */
  ip: string | undefined;
  /** Flussonic's stream name (`live/ch1`), when the dialect names the stream. */
  stream?: string | undefined;
  /** The request path (`/live/ch1/index.m3u8`), when the dialect gives a path instead. */
  path?: string | undefined;
  /** The streaming server's session id; undefined where it has none (nginx: one per IP and stream). */
  sessionId?: string | undefined;
  /** `hls`, `mpegts`, … when the server says. */
  proto?: string | undefined;
}

/**
 * Why a check was denied: for the log and the metrics only, never for the client. The list is
 * fixed, so that a metric label cannot be made to grow by what a request sends.
 */
export const DENY_REASONS = [
  'no_token',
  'bad_request',
  'bad_token',
  'forged',
  'expired_token',
  'wrong_ip',
  'unknown_stream',
  'unknown_subscriber',
  'key_rotated',
  'disabled',
  'expired',
  'not_entitled',
  'limit',
  'replaced',
] as const;
export type DenyReason = (typeof DENY_REASONS)[number];

export type Decision =
  | { allow: true; subscriberId: number; maxSessions: number }
  | { allow: false; reason: DenyReason; subscriberId?: number };
