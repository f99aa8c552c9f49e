import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { GuideBuilder, type GuideIndex } from './guide-index.js';
import { parseXmltv } from './xmltv-parser.js';

const GZIP_MAGIC = [0x1f, 0x8b];

/** Whether a file starts as gzip does: a guide is taken gzipped whatever its name. */
export async function isGzipped(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await file.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    await file.close();
  }
}

/** Bytes read at a time from a plain guide. */
const READ_BYTES = 1 << 16;

/**
 * The file's text, unpacked when it is gzip, as UTF-8 chunks (a character cut between two chunks
 * is joined). The file closes when the iteration ends, however it ends.
 */
async function textOf(path: string): Promise<AsyncIterable<string>> {
  if (!(await isGzipped(path))) return plainText(path);
  // pipeline, unlike pipe, passes a read error or a cut gzip stream on as an error of the text.
  return pipeline(createReadStream(path), createGunzip(), () => {}).setEncoding('utf8');
}

/**
 * A plain file read into one buffer, again and again: a read stream's fresh 64 kB buffer per read
 * lived long enough to reach the old generation, and a 50 MB guide left tens of megabytes of them
 * for the next full collection, which V8 puts off while external memory is under its limit.
 */
async function* plainText(path: string): AsyncGenerator<string> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    const decoder = new StringDecoder('utf8');
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      yield decoder.write(buffer.subarray(0, bytesRead));
    }
    const rest = decoder.end();
    if (rest !== '') yield rest;
  } finally {
    await file.close();
  }
}

/** What a load built, and what it left out. */
export interface LoadedGuide {
  index: GuideIndex;
  /** Programmes without a usable start or stop. */
  skipped: number;
}

/** Reads an XMLTV file (plain or gzip) into an index; throws, with the parser's reason, on a damaged one. */
export async function readGuideFile(path: string, signal?: AbortSignal): Promise<LoadedGuide> {
  const builder = new GuideBuilder();
  try {
    await parseXmltv(await textOf(path), builder, signal);
    return { index: await builder.build(), skipped: builder.skipped };
  } catch (error) {
    builder.discard();
    throw error;
  }
}

/** Checks that a file is a whole XMLTV guide, without keeping it: counts its channels and programmes. */
export async function checkGuideFile(path: string): Promise<{ channels: number; programmes: number }> {
  const counts = { channels: 0, programmes: 0 };
  await parseXmltv(await textOf(path), { channel: () => counts.channels++, programme: () => counts.programmes++ });
  return counts;
}

/** A guide file as seen by `stat`: a change in any of these is a new file to load. */
export interface GuideVersion {
  path: string;
  /** `ino:size:mtime`; compared, never parsed. */
  signature: string;
  modified: Date;
}

/**
 * Where the guide is: EPG_FILE, else EPG_FILE.gz next to it (what `/epg.xml` serves, and where a
 * fetched gzip guide is kept); undefined when neither exists.
 */
export async function findGuideFile(epgFile: string): Promise<GuideVersion | undefined> {
  for (const path of [epgFile, `${epgFile}.gz`]) {
    try {
      const info = await stat(path);
      if (info.isFile()) return { path, signature: `${path}:${info.ino}:${info.size}:${info.mtimeMs}`, modified: info.mtime };
    } catch {
      // Missing (or unreadable): try the next.
    }
  }
  return undefined;
}
