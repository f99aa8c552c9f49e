import { runProcess } from './processes.js';

export interface Probe {
  ok: boolean;
  duration: number;
  codecs: string[];
  /** ffprobe's stderr, for failure messages. */
  error: string;
}

/** ffprobe opens `url` itself (HLS: the playlist, then the segments) and reports what it read. */
export async function probe(url: string): Promise<Probe> {
  const result = await runProcess(
    'ffprobe',
    ['-v', 'error', '-rw_timeout', '15000000', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', url],
    { timeoutMs: 30_000 },
  );
  if (result.code !== 0) {
    return { ok: false, duration: 0, codecs: [], error: result.timedOut ? 'ffprobe timed out' : result.stderr.trim() };
  }
  const parsed = JSON.parse(result.stdout) as { format?: { duration?: string }; streams?: { codec_name?: string }[] };
  return {
    ok: true,
    duration: Number(parsed.format?.duration ?? 0),
    codecs: (parsed.streams ?? []).map((stream) => stream.codec_name ?? '?').sort(),
    error: result.stderr.trim(),
  };
}
