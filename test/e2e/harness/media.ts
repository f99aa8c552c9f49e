import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess } from './processes.js';

export const MEDIA_SECONDS = 4;

async function ffmpeg(args: string[]): Promise<void> {
  const result = await runProcess('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
}

/**
 * A short test stream, made once per run: `stream.ts` (MPEG-TS, H.264 + AAC) at the root, which
 * every origin serves for `/NAME/mpegts` and `/NAME/timeshift_abs-FROM.ts`, and the same stream as
 * HLS (`index.m3u8` + one-second segments) under each stream name, nested ones included.
 */
export async function makeTestMedia(root: string, streams: readonly string[]): Promise<void> {
  const ts = join(root, 'stream.ts');
  const [first, ...others] = streams.map((stream) => join(root, ...stream.split('/')));
  if (!first) throw new Error('makeTestMedia: name at least one stream');
  mkdirSync(first, { recursive: true });
  await ffmpeg([
    ...['-f', 'lavfi', '-i', `testsrc=size=320x240:rate=25:duration=${MEDIA_SECONDS}`],
    ...['-f', 'lavfi', '-i', `sine=frequency=440:duration=${MEDIA_SECONDS}`],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k'],
    ...['-shortest', '-f', 'mpegts', ts],
  ]);
  await ffmpeg([
    ...['-i', ts, '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', '-hls_playlist_type', 'vod'],
    ...['-hls_segment_filename', join(first, 'segment_%03d.ts'), join(first, 'index.m3u8')],
  ]);
  for (const dir of others) {
    mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(first)) copyFileSync(join(first, file), join(dir, file));
  }
}
