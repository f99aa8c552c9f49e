import { hash } from 'node:crypto';
import type { HashSubject } from './hash-subject.js';

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

/** A token is `digest + tail`: the digest differs per subject, the tail is shared by a whole playlist. */
export interface SecuretokenBinding {
  /** `-salt-end-start`: end precedes start on the wire. */
  tail: string;
  /** `ip + start + end + key + salt` as UTF-8: what the digest hashes after the subject. */
  suffix: Buffer;
  /** Writes `sha1(subject + ip + start + end + key + salt)`, 40 hex characters, into `out` at `at`. */
  writeDigest(subject: HashSubject, out: Buffer, at: number): void;
}

/**
 * Tokens for many subjects that share the viewer, times, key and salt (one playlist): everything
 * after the subject is encoded once, so each further token costs one sha1.
 */
export function securetokenFor(shared: Omit<SecuretokenInput, 'subject'>): SecuretokenBinding {
  const { ip, starttime, endtime, key, salt } = shared;
  const suffix = Buffer.from(ip + starttime + endtime + key + salt, 'utf8');
  return {
    tail: `-${salt}-${endtime}-${starttime}`,
    suffix,
    writeDigest: (subject, out, at) => subject.writeSha1Hex(suffix, out, at),
  };
}

/**
 * `sha1(subject + ip + start + end + key + salt)-salt-end-start`: one token on its own, as a stream
 * link's redirect signs it. A single token costs less as one string hashed than through the
 * per-playlist binding above, whose buffers pay off only over many subjects; the bytes are the same.
 */
export function securetoken({ subject, ip, starttime, endtime, key, salt }: SecuretokenInput): string {
  return `${hash('sha1', subject + ip + starttime + endtime + key + salt, 'hex')}-${salt}-${endtime}-${starttime}`;
}
