import { createHash } from 'node:crypto';

/**
 * An independent check of a Flussonic token, written from the spec rather than by calling the
 * signer: sha1(stream + ip + start + end + key + salt), with the token laid out
 * `hash-salt-end-start`.
 */
export function verifySecuretokenUrl(url: string, { key, ip, stream }: { key: string; ip: string; stream?: string }) {
  const parsed = new URL(url);
  const token = parsed.searchParams.get('token') ?? '';
  const match = /^([0-9a-f]{40})-([0-9a-f]{16,32})-(\d+)-(\d+)$/.exec(token);
  if (!match) return { valid: false as const, reason: `malformed token ${JSON.stringify(token)}` };
  const [, digest, salt, end, start] = match as unknown as [string, string, string, string, string];
  const name = stream ?? decodeURIComponent(parsed.pathname.replace(/^\//, '').replace(/\/(index\.m3u8|mpegts)$/, ''));
  const expected = createHash('sha1').update(`${name}${ip}${start}${end}${key}${salt}`).digest('hex');
  return {
    valid: expected === digest,
    stream: name,
    starttime: Number(start),
    endtime: Number(end),
    salt,
    reason: expected === digest ? '' : 'sha1 mismatch',
  };
}
