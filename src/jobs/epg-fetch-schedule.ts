import { type FetchOutcome, fetchGuide } from '../epg/guide-fetch.js';
import { type Logger, loggableUrl } from '../logger.js';
import { type CronSchedule, onCronSlots } from './cron-slots.js';

export interface GuideFetchSource {
  /** EPG_SOURCE_URL. */
  url: string;
  /** EPG_FILE: where the guide is kept (or EPG_FILE.gz). */
  epgFile: string;
  /** EPG_FETCH_CRON. */
  cron: string;
}

/**
 * Fetches the guide once at start, without holding the start up, then on the cron expression (in
 * UTC). `onUpdated` tells this process's guide that a new file landed (other processes' guides
 * see it at their next look); a failed fetch leaves the last good
 * guide in place and is tried again at the next slot. Stopping aborts a download in progress.
 */
export function scheduleGuideFetch(source: GuideFetchSource, logger: Logger, onUpdated: () => void): CronSchedule {
  const aborts = new AbortController();
  const run = async () => {
    if ((await runGuideFetchOnce(source, logger, aborts.signal)).outcome === 'updated') onUpdated();
  };
  const first = run();
  const schedule = onCronSlots(source.cron, 'epg-fetch', async () => {
    // Never two downloads into the one file aside.
    await first;
    await run();
  });
  return {
    stop: async () => {
      aborts.abort();
      await Promise.all([first, schedule.stop()]);
    },
  };
}

/**
 * One fetch, logged: never throws.
 * @internal Exported so that tests run one.
 */
export async function runGuideFetchOnce(source: GuideFetchSource, logger: Logger, signal?: AbortSignal): Promise<FetchOutcome> {
  const url = loggableUrl(source.url);
  const began = performance.now();
  const result = await fetchGuide(source.url, source.epgFile, signal ? { signal } : {});
  const ms = Math.round(performance.now() - began);
  if (result.outcome === 'updated') {
    const { path, channels, programmes, bytes } = result;
    logger.info({ job: 'epg-fetch', url, file: path, channels, programmes, bytes, ms }, 'programme guide fetched');
  } else if (result.outcome === 'unchanged') {
    logger.info({ job: 'epg-fetch', url, ms }, 'programme guide unchanged since the last fetch');
  } else if (!signal?.aborted) {
    logger.warn({ job: 'epg-fetch', url, err: result.reason }, 'programme guide fetch failed: keeping the last good guide');
  }
  return result;
}
