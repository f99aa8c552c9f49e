import { findGuideFile, type GuideVersion, readGuideFile } from './guide-file.js';
import { GuideIndex } from './guide-index.js';

/** How often the guide file is looked at (one `stat`, two when only the `.gz` exists). */
const DEFAULT_CHECK_MS = 5000;

/** Where the guide reports its loads; a pino logger is one. */
export interface GuideLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface LiveGuideOptions {
  /** Milliseconds between looks at the file; tests pass a short one. */
  checkMs?: number;
}

const SILENT: GuideLog = { info: () => {}, warn: () => {} };

/**
 * The programme guide of EPG_FILE (or EPG_FILE.gz), kept loaded: the file is looked at every few
 * seconds and, when it changed, parsed in the background into a new index that replaces the old
 * one at once when it is complete. Requests read `index` meanwhile, never waiting for a load. A
 * damaged file keeps the index there was, with a warning that says why; a file that is gone
 * empties it, as `/epg.xml` then answers 404.
 */
export class LiveGuide {
  private current = GuideIndex.EMPTY;
  /** The version last loaded or found damaged: the same file is not parsed again. */
  private seen: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private started = false;
  private stopped = false;
  private log = SILENT;

  constructor(
    private readonly epgFile: string,
    private readonly options: LiveGuideOptions = {},
  ) {}

  /** The guide as of the last complete load: what EPG answers read. Empty before the first. */
  get index(): GuideIndex {
    return this.current;
  }

  /** Starts looking at the file: the first load begins at once; the promise settles when it is done. */
  start(log: GuideLog): Promise<void> {
    this.log = log;
    this.started = true;
    const first = this.check();
    const every = this.options.checkMs ?? DEFAULT_CHECK_MS;
    const arm = () => {
      this.timer = setTimeout(() => void this.check().finally(() => this.stopped || arm()), every);
      // A guide's schedule never keeps the process alive by itself.
      this.timer.unref();
    };
    void first.finally(() => this.stopped || arm());
    return first;
  }

  /** Stops looking; a load in progress is abandoned. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopping.abort();
    await this.checking;
  }

  /**
   * Looks at the file now and loads it if it changed; one look at a time. Resolves when done. Does
   * nothing in a process that does not serve (a cluster's primary, an admin command).
   */
  check(): Promise<void> {
    if (!this.started || this.stopped) return Promise.resolve();
    return (this.checking ??= this.loadIfChanged().finally(() => {
      this.checking = undefined;
    }));
  }

  private async loadIfChanged(): Promise<void> {
    const version = await findGuideFile(this.epgFile);
    const signature = version?.signature ?? 'none';
    if (signature === this.seen) return;
    this.seen = signature;
    if (!version) {
      if (this.current !== GuideIndex.EMPTY) this.log.warn({ epgFile: this.epgFile }, 'the programme guide file is gone: no EPG');
      this.current = GuideIndex.EMPTY;
      return;
    }
    await this.load(version);
  }

  private async load(version: GuideVersion): Promise<void> {
    const began = performance.now();
    try {
      const { index, skipped } = await readGuideFile(version.path, this.stopping.signal);
      if (this.stopped) return;
      this.current = index;
      this.log.info(
        {
          file: version.path,
          channels: index.channelCount,
          programmes: index.programmeCount,
          skipped,
          textBytes: index.textBytes,
          ms: Math.round(performance.now() - began),
        },
        'programme guide loaded',
      );
    } catch (error) {
      if (this.stopped) return;
      this.log.warn(
        { file: version.path, err: (error as Error).message, keeping: this.current.programmeCount },
        'programme guide not loaded (damaged?): keeping the previous one',
      );
    }
  }
}
