import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LiveGuide } from '../../src/epg/live-guide.js';
import { startTestLineup, tempDir } from '../helpers/lineup.js';
import { recordingLog, xmltv } from './support.js';

const files = tempDir('lineup-epg-live-');
afterAll(() => files.cleanup());

const guideWith = (title: string, count = 1) =>
  xmltv(
    [{ id: 'news.test', name: 'News' }],
    Array.from({ length: count }, (_, i) => ({
      channel: 'news.test',
      start: `2026120312${String(i).padStart(2, '0')}00 +0000`,
      stop: `2026120312${String(i + 1).padStart(2, '0')}00 +0000`,
      title: `${title} ${i}`,
    })),
  );

const titles = (guide: LiveGuide) => guide.index.programmes('news.test').map((p) => p.title);

/** Waits until `done` holds, looking every 20 ms, for at most 10 s. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done(); waited += 20) {
    if (waited > 10_000) throw new Error('waited 10 s in vain');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the live guide', () => {
  const running: LiveGuide[] = [];
  afterEach(async () => {
    for (const guide of running.splice(0)) await guide.stop();
  });
  const started = async (epgFile: string) => {
    const log = recordingLog();
    const guide = new LiveGuide(epgFile, { checkMs: 30 });
    running.push(guide);
    await guide.start(log);
    return { guide, log };
  };

  it('when EPG_FILE is plain XML, then it is loaded at start', async () => {
    const epgFile = join(files.dir, 'plain.xml');
    writeFileSync(epgFile, guideWith('Plain', 2));
    const { guide, log } = await started(epgFile);
    expect(titles(guide)).toEqual(['Plain 0', 'Plain 1']);
    expect(log.lines.at(-1)).toMatchObject({ level: 'info', message: 'programme guide loaded', fields: { channels: 1, programmes: 2 } });
  });

  it('when only EPG_FILE.gz exists, then it is unpacked and loaded', async () => {
    const epgFile = join(files.dir, 'packed.xml');
    writeFileSync(`${epgFile}.gz`, gzipSync(guideWith('Packed')));
    const { guide } = await started(epgFile);
    expect(titles(guide)).toEqual(['Packed 0']);
  });

  it('when EPG_FILE itself is gzip whatever its name, then it is unpacked', async () => {
    const epgFile = join(files.dir, 'misnamed.xml');
    writeFileSync(epgFile, gzipSync(guideWith('Misnamed')));
    const { guide } = await started(epgFile);
    expect(titles(guide)).toEqual(['Misnamed 0']);
  });

  it('when the file changes, then the new guide replaces the old one', async () => {
    const epgFile = join(files.dir, 'changing.xml');
    writeFileSync(epgFile, guideWith('Old'));
    const { guide } = await started(epgFile);
    expect(titles(guide)).toEqual(['Old 0']);
    // Replaced as a careful operator does: written aside, then renamed over it.
    writeFileSync(`${epgFile}.new`, guideWith('New', 3));
    renameSync(`${epgFile}.new`, epgFile);
    await until(() => titles(guide)[0] === 'New 0');
    expect(titles(guide)).toEqual(['New 0', 'New 1', 'New 2']);
  });

  it('when the new file is damaged, then the previous guide stays and the log says why; a repaired file is then loaded', async () => {
    const epgFile = join(files.dir, 'damaged.xml');
    writeFileSync(epgFile, guideWith('Good', 2));
    const { guide, log } = await started(epgFile);
    const whole = guideWith('Cut', 4);
    // A download cut in the middle: well-formed so far, but never closed.
    writeFileSync(epgFile, whole.slice(0, Math.floor(whole.length * 0.7)));
    await until(() => log.lines.some((line) => line.level === 'warn'));
    const warning = log.lines.find((line) => line.level === 'warn')!;
    expect(warning.message).toMatch(/keeping the previous one/);
    expect(warning.fields.err).toMatch(/unclosed|unexpected end/i);
    expect(warning.fields.keeping).toBe(2);
    expect(titles(guide)).toEqual(['Good 0', 'Good 1']);

    writeFileSync(epgFile, '<html><body>Bad gateway</body></html>');
    await until(() => log.lines.filter((line) => line.level === 'warn').length === 2);
    expect(log.lines.at(-1)!.fields.err).toMatch(/root element is <html>/);
    expect(titles(guide)).toEqual(['Good 0', 'Good 1']);

    writeFileSync(epgFile, guideWith('Repaired', 1));
    await until(() => titles(guide)[0] === 'Repaired 0');
  });

  it('when a gzip file is cut short, then the previous guide stays', async () => {
    const epgFile = join(files.dir, 'cut.xml');
    writeFileSync(epgFile, guideWith('Whole', 1));
    const { guide, log } = await started(epgFile);
    rmSync(epgFile);
    const packed = gzipSync(guideWith('Cut', 20));
    writeFileSync(`${epgFile}.gz`, packed.subarray(0, packed.length - 20));
    await until(() => log.lines.some((line) => line.level === 'warn' && /keeping/.test(line.message)));
    expect(titles(guide)).toEqual(['Whole 0']);
  });

  it('when the file is removed, then the guide is empty, as /epg.xml is then 404', async () => {
    const epgFile = join(files.dir, 'removed.xml');
    writeFileSync(epgFile, guideWith('Here'));
    const { guide } = await started(epgFile);
    expect(titles(guide)).toEqual(['Here 0']);
    rmSync(epgFile);
    await until(() => guide.index.programmeCount === 0);
  });

  it('when there is no file at start, then the guide is empty and one appearing later is loaded', async () => {
    const epgFile = join(files.dir, 'later.xml');
    const { guide } = await started(epgFile);
    expect(guide.index.programmeCount).toBe(0);
    writeFileSync(epgFile, guideWith('Later'));
    await until(() => titles(guide)[0] === 'Later 0');
  });
});

describe('the server and its guide', () => {
  it('when a large guide is loading, then requests are answered before the load is done', async () => {
    const epgFile = join(files.dir, 'large.xml');
    const time = (minute: number) =>
      `20261203${String(Math.floor(minute / 60)).padStart(2, '0')}${String(minute % 60).padStart(2, '0')}00 +0000`;
    const programme = (i: number) =>
      `<programme start="${time(i % 1439)}" stop="${time((i % 1439) + 1)}" channel="news.test"><title>Show ${i % 500}</title><desc>Description ${i} ${'x'.repeat(200)}</desc></programme>\n`;
    const body = Array.from({ length: 50_000 }, (_, i) => programme(i)).join('');
    writeFileSync(epgFile, `<tv>\n${body}</tv>\n`);
    const lineup = await startTestLineup({ env: { EPG_FILE: epgFile } });
    try {
      const answers: number[] = [];
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${lineup.url}/healthz`);
        expect(response.status).toBe(200);
        answers.push(lineup.context.guide.index.programmeCount);
      }
      // Answered while the guide was still the empty one: the load did not hold the event loop.
      expect(answers[0]).toBe(0);
      await until(() => lineup.context.guide.index.programmeCount === 50_000);
    } finally {
      await lineup.close();
    }
  });

  it('when the server starts with EPG_FILE, then its context holds the loaded guide', async () => {
    const epgFile = join(files.dir, 'served.xml');
    writeFileSync(epgFile, guideWith('Served', 2));
    const lineup = await startTestLineup({ env: { EPG_FILE: epgFile } });
    try {
      await until(() => lineup.context.guide.index.programmeCount === 2);
      expect(titles(lineup.context.guide)).toEqual(['Served 0', 'Served 1']);
    } finally {
      await lineup.close();
    }
  });
});
