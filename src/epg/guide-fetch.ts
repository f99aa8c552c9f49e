import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { checkGuideFile, findGuideFile, isGzipped } from './guide-file.js';

/** A download larger than this is refused: a guide for thousands of channels is a few hundred MB unpacked at most. */
const MAX_DOWNLOAD_BYTES = 1 << 30;
/** A download that takes longer than this is given up, and tried again at the next slot. */
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

export type FetchOutcome =
  | { outcome: 'updated'; path: string; channels: number; programmes: number; bytes: number }
  | { outcome: 'unchanged' }
  | { outcome: 'failed'; reason: string };

export interface FetchOptions {
  /** Aborts the download (the server is stopping). */
  signal?: AbortSignal;
  maxBytes?: number;
}

/**
 * Fetches the XMLTV guide at `url` into EPG_FILE, or EPG_FILE.gz when it comes gzipped, so that
 * `/epg.xml` and the guide index read it as they read one the operator put there. The last good
 * guide is never lost: the download goes to a file aside, is parsed whole (well-formed, a `<tv>`
 * root, at least one programme) and only then renamed over the guide. A failure of any kind
 * answers `failed` with the reason, which never holds the URL (it may carry a password).
 * `If-Modified-Since` is the guide's time, which is the server's `Last-Modified` when it gave one:
 * an unchanged guide costs a 304.
 */
export async function fetchGuide(url: string, epgFile: string, options: FetchOptions = {}): Promise<FetchOutcome> {
  const current = await findGuideFile(epgFile);
  const aside = `${epgFile}.download`;
  try {
    const signal = AbortSignal.any([AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS), ...(options.signal ? [options.signal] : [])]);
    const { target, authorization } = withoutCredentials(url);
    const response = await fetch(target, {
      signal,
      headers: {
        ...(authorization ? { Authorization: authorization } : {}),
        ...(current ? { 'If-Modified-Since': current.modified.toUTCString() } : {}),
      },
    });
    if (response.status === 304) return { outcome: 'unchanged' };
    if (response.status !== 200 || !response.body) {
      await response.body?.cancel();
      return { outcome: 'failed', reason: `the server answered ${response.status}` };
    }
    await mkdir(dirname(epgFile), { recursive: true });
    const bytes = await save(response.body as WebReadableStream<Uint8Array>, aside, options.maxBytes ?? MAX_DOWNLOAD_BYTES, signal);
    const { channels, programmes } = await checkGuideFile(aside);
    if (programmes === 0) return { outcome: 'failed', reason: 'the guide has no programmes' };
    const path = (await isGzipped(aside)) ? `${epgFile}.gz` : epgFile;
    const lastModified = Date.parse(response.headers.get('last-modified') ?? '');
    if (!Number.isNaN(lastModified)) await utimes(aside, new Date(), new Date(lastModified));
    await rename(aside, path);
    // The other spelling would otherwise be served to some clients (/epg.xml prefers .gz for gzip clients).
    await rm(path === epgFile ? `${epgFile}.gz` : epgFile, { force: true });
    return { outcome: 'updated', path, channels, programmes, bytes };
  } catch (error) {
    return { outcome: 'failed', reason: reasonOf(error) };
  } finally {
    await rm(aside, { force: true });
  }
}

/** fetch refuses a URL with `user:password@` (and says so with the URL in its message): they go as Basic auth instead. */
function withoutCredentials(url: string): { target: string; authorization?: string } {
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '') return { target: url };
  const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = '';
  parsed.password = '';
  return { target: parsed.href, authorization: `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** Streams the body to `path`, refusing more than `maxBytes`; answers the bytes written. */
async function save(body: WebReadableStream<Uint8Array>, path: string, maxBytes: number, signal: AbortSignal): Promise<number> {
  let bytes = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(bytes > maxBytes ? new Error(`the guide is larger than ${maxBytes} bytes`) : null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(body), limit, createWriteStream(path), { signal });
  return bytes;
}

/** An error as one line, with fetch's cause (`connect ECONNREFUSED …`) rather than its bare "fetch failed". */
function reasonOf(error: unknown): string {
  const { message, cause } = error as Error & { cause?: Error };
  return cause?.message ? `${message}: ${cause.message}` : message;
}
