import { hash } from 'node:crypto';

/** Enough for an IPv6 address, both times, a 32-character key and the longest salt. */
const SUFFIX_ROOM = 128;

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
export const SHA1_HEX_WIDTH = 40;

/**
 * What a token hashes for one stream (its name, id or path) as UTF-8 bytes, with room after them
 * for the part every token of a viewer shares. A playlist prepares these once per lineup, so that
 * a token costs a copy of that shared part and one sha1 over bytes already in place: building and
 * encoding a string per channel cost more than the sha1 itself.
 *
 * The room is scratch space that each digest overwrites, so use it from synchronous code only.
 * Digests depend on nothing but the text and the suffix.
 */
export class HashSubject {
  private bytes: Buffer;
  private readonly textBytes: number;
  /** `bytes` cut to the text and the last suffix; cut again only when the suffix length changes. */
  private input: Buffer;

  constructor(readonly text: string) {
    const encoded = Buffer.from(text, 'utf8');
    this.textBytes = encoded.length;
    this.bytes = Buffer.allocUnsafe(encoded.length + SUFFIX_ROOM);
    this.bytes.set(encoded, 0);
    this.input = this.bytes.subarray(0, encoded.length);
  }

  /**
   * `sha1(text + suffix)` as 40 lowercase hex characters, written into `out` at `at`. The digest
   * comes back as 20 one-byte characters and is hex-encoded straight into place: a hex string per
   * channel, copied afterwards, cost more.
   */
  writeSha1Hex(suffix: Buffer, out: Buffer, at: number): void {
    const length = this.textBytes + suffix.length;
    if (this.input.length !== length) {
      if (this.bytes.length < length) {
        const grown = Buffer.allocUnsafe(length + SUFFIX_ROOM);
        this.bytes.copy(grown, 0, 0, this.textBytes);
        this.bytes = grown;
      }
      this.input = this.bytes.subarray(0, length);
    }
    this.bytes.set(suffix, this.textBytes);
    const digest = hash('sha1', this.input, 'binary');
    for (let i = 0, to = at; i < digest.length; i++) {
      const byte = digest.charCodeAt(i);
      out[to++] = HEX_DIGITS[byte >> 4]!;
      out[to++] = HEX_DIGITS[byte & 15]!;
    }
  }
}
