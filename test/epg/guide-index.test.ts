import { afterAll, describe, expect, it } from 'vitest';
import { readGuideFile } from '../../src/epg/guide-file.js';
import { parseXmltv } from '../../src/epg/xmltv-parser.js';
import { parseXmltvTime } from '../../src/epg/xmltv-time.js';
import { xmltvBuffer } from '../../src/epg/xmltv-writer.js';
import { tempDir } from '../helpers/lineup.js';
import { at, indexOf, writeGuide, xmltv } from './support.js';

const files = tempDir('lineup-epg-index-');
afterAll(() => files.cleanup());

describe('XMLTV times', () => {
  it('when a time carries an offset, then it is read as that offset from UTC', () => {
    expect(parseXmltvTime('20261203120000 +0100')).toBe(at('2026-12-03T11:00:00Z'));
    expect(parseXmltvTime('20261203120000 -0530')).toBe(at('2026-12-03T17:30:00Z'));
    expect(parseXmltvTime('20261203120000+0100')).toBe(at('2026-12-03T11:00:00Z'));
    expect(parseXmltvTime('20261203120000 +01:00')).toBe(at('2026-12-03T11:00:00Z'));
    expect(parseXmltvTime('20261203120000 +0000')).toBe(at('2026-12-03T12:00:00Z'));
  });

  it('when a time has no offset or says UTC, then it is UTC', () => {
    expect(parseXmltvTime('20261203120000')).toBe(at('2026-12-03T12:00:00Z'));
    expect(parseXmltvTime('20261203120000 UTC')).toBe(at('2026-12-03T12:00:00Z'));
    expect(parseXmltvTime('20261203120000Z')).toBe(at('2026-12-03T12:00:00Z'));
  });

  it('when a time stops at the minute or the day, then the rest is zero', () => {
    expect(parseXmltvTime('202612031230 +0100')).toBe(at('2026-12-03T11:30:00Z'));
    expect(parseXmltvTime('20261203')).toBe(at('2026-12-03T00:00:00Z'));
  });

  it('when a time is not one, then it is refused rather than rolled over', () => {
    expect(parseXmltvTime('20280229120000 +0000')).toBe(at('2028-02-29T12:00:00Z'));
    for (const bad of [
      '',
      'tomorrow',
      '20261303120000 +0000',
      '20261232120000',
      '20270229120000',
      '20261203250000',
      '202612031',
      '20261203120000 +2500',
      '20261203120000 CET',
      '20261203120000 +0100 extra',
      '2026-12-03',
    ]) {
      expect(parseXmltvTime(bad), bad).toBeUndefined();
    }
  });
});

describe('the guide index', () => {
  const guide = xmltv(
    [
      { id: 'news.test', name: 'News', icon: 'http://logos.test/news.png' },
      { id: 'films.test', name: 'Films' },
    ],
    [
      // Out of order on purpose: the index sorts by start.
      {
        channel: 'news.test',
        start: '20261203130000 +0100',
        stop: '20261203140000 +0100',
        title: 'Midday',
        desc: 'At noon UTC',
        lang: 'en',
      },
      {
        channel: 'news.test',
        start: '20261203110000 +0000',
        stop: '20261203120000 +0000',
        title: 'Morning',
        desc: 'Eleven UTC',
        lang: 'en',
      },
      { channel: 'news.test', start: '20261203130000 +0000', stop: '20261203140000 +0000', title: 'Afternoon' },
      { channel: 'films.test', start: '20261203100000 +0000', title: 'No stop: until the next' },
      { channel: 'films.test', start: '20261203123000 +0000', stop: '20261203150000 +0000', title: 'Feature', lang: 'fr' },
      { channel: 'films.test', start: 'soon', stop: '20261203150000 +0000', title: 'Unreadable start' },
      // A channel with programmes and no <channel> element.
      { channel: 'orphan.test', start: '20261203120000 +0000', stop: '20261203130000 +0000', title: 'Orphan' },
    ],
  );

  it('when a guide is read, then each channel has its programmes sorted by start, with UTC unix times', async () => {
    const { index, skipped } = await readGuideFile(writeGuide(files.dir, 'sorted.xml', guide));
    expect(skipped).toBe(1);
    expect(index.channelCount).toBe(3);
    expect(index.programmeCount).toBe(6);
    const news = index.programmes('news.test');
    expect(news.map((p) => [p.title, p.start, p.stop])).toEqual([
      ['Morning', at('2026-12-03T11:00:00Z'), at('2026-12-03T12:00:00Z')],
      ['Midday', at('2026-12-03T12:00:00Z'), at('2026-12-03T13:00:00Z')],
      ['Afternoon', at('2026-12-03T13:00:00Z'), at('2026-12-03T14:00:00Z')],
    ]);
    expect(news[0]).toMatchObject({ channelId: 'news.test', description: 'Eleven UTC', lang: 'en' });
    expect(news[2]).toMatchObject({ description: '', lang: '' });
    expect(index.programmes('films.test').map((p) => [p.title, p.stop])).toEqual([
      ['No stop: until the next', at('2026-12-03T12:30:00Z')],
      ['Feature', at('2026-12-03T15:00:00Z')],
    ]);
    expect(index.channel('news.test')).toEqual({
      id: 'news.test',
      names: [{ text: 'News', lang: 'en' }],
      icon: 'http://logos.test/news.png',
    });
    expect(index.channel('orphan.test')).toBeUndefined();
    expect(index.programmes('orphan.test')).toHaveLength(1);
    expect(index.programmes('nobody.test')).toEqual([]);
  });

  it('when programmes are asked from a time, then the one on air comes first, then the next ones, up to the limit', async () => {
    const index = await indexOf(files.dir, guide);
    const titles = (from: string, limit: number) => index.programmesFrom('news.test', at(from), limit).map((p) => p.title);
    expect(titles('2026-12-03T12:30:00Z', 4)).toEqual(['Midday', 'Afternoon']);
    expect(titles('2026-12-03T12:30:00Z', 1)).toEqual(['Midday']);
    // At a boundary the programme that starts is on air, not the one that ended.
    expect(titles('2026-12-03T12:00:00Z', 4)).toEqual(['Midday', 'Afternoon']);
    expect(titles('2026-12-01T00:00:00Z', 2)).toEqual(['Morning', 'Midday']);
    expect(titles('2026-12-04T00:00:00Z', 4)).toEqual([]);
    expect(titles('2026-12-03T12:30:00Z', 0)).toEqual([]);
    expect(index.programmesFrom('nobody.test', at('2026-12-03T12:30:00Z'), 4)).toEqual([]);
  });

  it('when the same guide is read twice, then a programme keeps its id, and ids differ between programmes', async () => {
    const first = await indexOf(files.dir, guide);
    const second = await indexOf(files.dir, guide);
    const ids = (index: typeof first) => ['news.test', 'films.test', 'orphan.test'].flatMap((id) => index.programmes(id).map((p) => p.id));
    expect(ids(second)).toEqual(ids(first));
    expect(new Set(ids(first)).size).toBe(6);
    for (const id of ids(first)) expect(Number.isInteger(id) && id > 0).toBe(true);
  });

  it('when titles and descriptions repeat, then each text is kept once', async () => {
    const repeated = xmltv(
      [{ id: 'loop.test', name: 'Loop' }],
      Array.from({ length: 200 }, (_, i) => ({
        channel: 'loop.test',
        start: `202612031${String(Math.floor(i / 60)).padStart(1, '0')}${String(i % 60).padStart(2, '0')}00 +0000`,
        stop: `202612031${String(Math.floor(i / 60)).padStart(1, '0')}${String(i % 60).padStart(2, '0')}30 +0000`,
        title: 'The same show',
        desc: 'The same long description of the same show, every time it airs.',
      })),
    );
    const index = await indexOf(files.dir, repeated);
    expect(index.programmeCount).toBe(200);
    expect(index.textBytes).toBe('The same show'.length + 'The same long description of the same show, every time it airs.'.length);
  });
});

describe('parsing alongside requests', () => {
  it('when the chunks come without waiting (microtasks only), then the event loop still gets turns during the parse', async () => {
    const programme = '<programme start="20261203120000 +0000" stop="20261203130000 +0000" channel="a"><title>T</title></programme>\n';
    async function* chunks() {
      yield '<tv>\n';
      for (let i = 0; i < 4000; i++) yield programme.repeat(20);
      yield '</tv>\n';
    }
    let turns = 0;
    let counting = true;
    const tick = () => {
      turns++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    let programmes = 0;
    await parseXmltv(chunks(), { channel: () => {}, programme: () => programmes++ });
    counting = false;
    expect(programmes).toBe(80_000);
    expect(turns).toBeGreaterThan(1);
  });
});

describe('hostile text', () => {
  const hostile = {
    id: 'evil "id" & <co>',
    title: `</title><script>alert("x")</script> & ' ]]> \u{1F4FA} Ünïcødé`,
    desc: 'A <b>bold</b> claim &amp; an &lt;escaped&gt; one, "quoted" and \'single\'',
    lang: 'e"n',
  };
  const guide = xmltv(
    [{ id: hostile.id, name: '<Evil> & "Co"', icon: 'http://logos.test/a.png?x=1&y="2"' }],
    [{ channel: hostile.id, start: '20261203120000 +0000', stop: '20261203130000 +0000', ...hostile }],
  );

  it('when titles hold markup, entities, quotes and emoji, then they are read as the text they spell', async () => {
    const index = await indexOf(files.dir, guide);
    const [programme] = index.programmes(hostile.id);
    expect(programme).toMatchObject({ title: hostile.title, description: hostile.desc, lang: hostile.lang, channelId: hostile.id });
    expect(index.channel(hostile.id)?.names).toEqual([{ text: '<Evil> & "Co"', lang: 'en' }]);
  });

  it('when the guide is written back for a channel, then it parses to the same texts, escaped', async () => {
    const index = await indexOf(files.dir, guide);
    const written = xmltvBuffer(index, [{ id: hostile.id, name: 'ignored: the guide names it', logo: '' }]).toString('utf8');
    expect(written).not.toContain('<script>');
    expect(written).not.toContain('<b>');
    const again = await indexOf(files.dir, written);
    expect(
      again.programmes(hostile.id).map(({ title, description, lang, start, stop }) => ({ title, description, lang, start, stop })),
    ).toEqual([
      {
        title: hostile.title,
        description: hostile.desc,
        lang: hostile.lang,
        start: at('2026-12-03T12:00:00Z'),
        stop: at('2026-12-03T13:00:00Z'),
      },
    ]);
    expect(again.channel(hostile.id)).toEqual({
      id: hostile.id,
      names: [{ text: '<Evil> & "Co"', lang: 'en' }],
      icon: 'http://logos.test/a.png?x=1&y="2"',
    });
  });
});

describe('writing XMLTV for a line', () => {
  const guide = xmltv(
    [
      { id: 'news.test', name: 'News' },
      { id: 'secret.test', name: 'Not in this line' },
    ],
    [
      { channel: 'news.test', start: '20261203120000 +0100', stop: '20261203130000 +0100', title: 'Noon news', desc: 'Headlines' },
      { channel: 'secret.test', start: '20261203120000 +0000', stop: '20261203130000 +0000', title: 'Private' },
    ],
  );

  it('when written for some channels, then only those channels and their programmes are in it, times in UTC', async () => {
    const index = await indexOf(files.dir, guide);
    const written = xmltvBuffer(index, [
      { id: 'news.test', name: 'News', logo: '' },
      { id: 'news.test', name: 'News again', logo: '' },
      { id: 'lineup-only.test', name: 'Bad \u0001 "name" <x>', logo: 'http://logos.test/l.png' },
    ]).toString('utf8');
    expect(written.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
    expect(written).not.toContain('secret.test');
    expect(written).not.toContain('Private');
    expect(written.match(/<channel id="news.test">/g)).toHaveLength(1);
    expect(written).toContain('<programme start="20261203110000 +0000" stop="20261203120000 +0000" channel="news.test">');
    const again = await indexOf(files.dir, written);
    expect(again.channel('lineup-only.test')).toEqual({
      id: 'lineup-only.test',
      names: [{ text: 'Bad  "name" <x>', lang: '' }],
      icon: 'http://logos.test/l.png',
    });
    expect(again.programmes('news.test').map((p) => [p.title, p.description])).toEqual([['Noon news', 'Headlines']]);
    expect(again.programmes('secret.test')).toEqual([]);
  });

  it('when written for no channels, then it is an empty <tv>', async () => {
    const index = await indexOf(files.dir, guide);
    const written = xmltvBuffer(index, []).toString('utf8');
    const again = await indexOf(files.dir, written);
    expect(again.channelCount).toBe(0);
    expect(written).toContain('<tv generator-info-name="Lineup">\n</tv>');
  });
});
