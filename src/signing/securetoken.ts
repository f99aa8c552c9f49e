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
  return securetokenFor(input)(input.subject);
}

/**
 * Tokens for many subjects that share the viewer, times, key and salt (one playlist): everything
 * after the subject is joined once, so each further token costs one sha1 and one concatenation.
 */
export function securetokenFor(shared: Omit<SecuretokenInput, 'subject'>): (subject: string) => string {
  const { ip, starttime, endtime, key, salt } = shared;
  const afterSubject = ip + starttime + endtime + key + salt;
  const tail = `-${salt}-${endtime}-${starttime}`;
  return (subject) => hash('sha1', subject + afterSubject) + tail;
}
