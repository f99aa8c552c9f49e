import { stateOf } from '../subscribers/access.js';
import type { SubscriberState, XcLogin } from '../subscribers/subscriber.js';
import { fromSqlTime } from '../time.js';
import { xcDateTime } from './xc-time.js';

/** What XC clients call a line's state; exact spelling. */
const XC_STATUS: Readonly<Record<SubscriberState, string>> = { active: 'Active', expired: 'Expired', disabled: 'Disabled' };

/** What apps show under the account: empty while all is well. */
function messageFor(state: SubscriberState, expiresAt: string): string {
  switch (state) {
    case 'active':
      return '';
    case 'expired':
      return `Subscription expired on ${expiresAt} UTC. Contact your provider to renew.`;
    case 'disabled':
      return 'Subscription disabled. Contact your provider.';
  }
}

/** `server_info`'s fixed part, from PUBLIC_URL: a bare host, ports as digit strings. */
export interface ServerAddress {
  url: string;
  port: string;
  httpsPort: string;
  protocol: 'http' | 'https';
}

export function serverAddressOf(publicUrl: string): ServerAddress {
  const url = new URL(publicUrl);
  const protocol = url.protocol === 'https:' ? 'https' : 'http';
  const port = url.port || (protocol === 'https' ? '443' : '80');
  return { url: url.hostname.replace(/^\[|\]$/g, ''), port, httpsPort: protocol === 'https' ? port : '', protocol };
}

/** The formats `/live/…` serves; clients fall back to the first. */
const OUTPUT_FORMATS = ['m3u8', 'ts'];

/**
 * The account object, the answer to a login and to every action that is not a list or the guide.
 * `username` and `password` are echoed exactly as sent: clients build stream URLs from them.
 */
export function accountObject(
  login: XcLogin,
  presented: { username: string; password: string },
  server: ServerAddress,
  activeConnections: number,
  now: number,
): object {
  const state = stateOf(login, now);
  return {
    user_info: {
      username: presented.username,
      password: presented.password,
      message: messageFor(state, login.expiresAt),
      auth: 1,
      status: XC_STATUS[state],
      exp_date: String(fromSqlTime(login.expiresAt)),
      is_trial: '0',
      active_cons: String(activeConnections),
      created_at: String(fromSqlTime(login.createdAt)),
      max_connections: String(login.maxConnections),
      allowed_output_formats: OUTPUT_FORMATS,
    },
    server_info: {
      url: server.url,
      port: server.port,
      https_port: server.httpsPort,
      server_protocol: server.protocol,
      rtmp_port: '',
      timezone: 'UTC',
      timestamp_now: now,
      time_now: xcDateTime(now),
      process: true,
    },
  };
}
