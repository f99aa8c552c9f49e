import { hash } from 'node:crypto';

/** What the Flussonic securetoken hash covers, besides the stream subject. */
export interface SecuretokenInput {
  /** The hash subject: a stream name (`live/ch1`), a channel id, or a request path. */
  subject: string;
  /** Viewer address as the origin sees it, or the literal `no_check_ip`. */
  ip: string;
  starttime: number;
  endtime: number;
  key: string;
  /** `[0-9a-f]{16,32}`; callers guarantee the alphabet, since a `-` would corrupt the token. */
  salt: string;
}

export const NO_CHECK_IP = 'no_check_ip';

/** `sha1(subject + ip + start + end + key + salt)-salt-end-start`. End precedes start on the wire. */
export function securetoken(input: SecuretokenInput): string {
  const { subject, ip, starttime, endtime, key, salt } = input;
  const digest = hash('sha1', subject + ip + starttime + endtime + key + salt);
  return `${digest}-${salt}-${endtime}-${starttime}`;
}
