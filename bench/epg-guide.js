// The EPG plan of `npm run bench`: a generated XMLTV guide of about 50 MB, loaded by a real
// `lineup serve` that already serves the memory plan's lineup; its load time, the server's peak
// RSS (first load, then a reload beside the loaded index, the worst moment), and how long
// /healthz took while it loaded.

import { once } from 'node:events';
import { createWriteStream, renameSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { rssMb, startLineupServer } from './http.js';

/** A deterministic PRNG (mulberry32), so that runs compare. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the news weather sport match final season episode live report world city night morning evening ' +
  'документальный фильм сериал новости погода spécial édition été café naïve über straße'
).split(' ');

const xmlText = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const time = (seconds) => `${new Date(seconds * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14)} +0000`;

/**
 * Writes an XMLTV guide of at least `targetBytes`, shaped like a grabber's: channels with names and
 * icons, then a week of programmes per channel with titles from a pool (series repeat), half the
 * descriptions repeated, half unique, some Cyrillic and accented text, categories and episode numbers.
 */
export async function writeBenchGuide(path, targetBytes) {
  const next = random(42);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const sentence = (words) => Array.from({ length: words }, () => pick(WORDS)).join(' ');
  const titles = Array.from({ length: 3000 }, (_, i) => `${sentence(3)} & co ${i}`);
  const sharedDescriptions = Array.from({ length: 5000 }, () => sentence(30));
  const out = createWriteStream(path);
  let bytes = 0;
  const write = async (text) => {
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  };
  await write('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE tv SYSTEM "xmltv.dtd">\n<tv generator-info-name="bench">\n');
  const channels = 500;
  for (let c = 0; c < channels; c++) {
    await write(`  <channel id="channel-${c}.bench">\n    <display-name lang="en">Channel ${c}</display-name>\n`);
    await write(`    <icon src="http://logos.bench/${c}.png" />\n  </channel>\n`);
  }
  const begin = Date.UTC(2026, 11, 1) / 1000;
  let programmes = 0;
  for (let c = 0; bytes < targetBytes; c = (c + 1) % channels) {
    // A day of one channel at a time, channel after channel, as grabbers that merge sources write.
    const day = Math.floor(programmes / (channels * 40));
    let start = begin + day * 86400;
    for (let p = 0; p < 40; p++, programmes++) {
      const stop = start + 1800 + Math.floor(next() * 4) * 900;
      const description = next() < 0.5 ? pick(sharedDescriptions) : sentence(20 + Math.floor(next() * 30));
      await write(
        `  <programme start="${time(start)}" stop="${time(stop)}" channel="channel-${c}.bench">\n` +
          `    <title lang="en">${xmlText(pick(titles))}</title>\n    <desc lang="en">${xmlText(description)}</desc>\n` +
          `    <category lang="en">${pick(WORDS)}</category>\n    <episode-num system="onscreen">S${1 + (p % 9)}E${p}</episode-num>\n` +
          '  </programme>\n',
      );
      start = stop;
    }
  }
  await write('</tv>\n');
  out.end();
  await once(out, 'finish');
  return { bytes, channels, programmes };
}

/** Resolves with the fields of the `nth` log line (1-based) whose message is `message`, however early it came. */
function logLine(lines, message, nth) {
  return new Promise((resolve) => {
    const check = () => {
      const found = lines.seen.filter((line) => line.msg === message);
      if (found.length < nth) return;
      lines.off('line', check);
      resolve(found[nth - 1]);
    };
    lines.on('line', check);
    check();
  });
}

/** /healthz asked every 20 ms until `done` settles; the slowest answer, in ms. */
async function slowestHealth(url, done) {
  let settled = false;
  done.then(() => (settled = true));
  let slowest = 0;
  while (!settled) {
    const began = performance.now();
    await (await fetch(`${url}/healthz`)).arrayBuffer();
    slowest = Math.max(slowest, performance.now() - began);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return slowest;
}

/**
 * One server, as in production: it starts without a guide and does `warm` (serves playlists),
 * then a 50 MB guide is renamed into place and loaded, then touched and loaded again beside the
 * first (the worst moment for memory). Peak RSS is the process's high-water mark.
 */
export async function benchGuideLoad(dir, env, warm = async () => {}) {
  const epgFile = join(dir, 'epg.xml');
  const aside = join(dir, 'epg.xml.new');
  const guide = await writeBenchGuide(aside, 50 * 1024 * 1024);
  const server = await startLineupServer({ ...env, EPG_FILE: epgFile, LOG_LEVEL: 'info' }, { logLines: true });
  try {
    await warm(server);
    const before = rssMb(server.pid);
    const firstLoad = logLine(server.lines, 'programme guide loaded', 1);
    renameSync(aside, epgFile);
    const healthDuringLoad = await slowestHealth(server.url, firstLoad);
    const first = await firstLoad;
    const afterFirst = rssMb(server.pid);
    const reload = logLine(server.lines, 'programme guide loaded', 2);
    const later = new Date(Date.now() + 1000);
    utimesSync(epgFile, later, later);
    const second = await reload;
    const afterReload = rssMb(server.pid);
    const mb = (value) => Math.round(value * 10) / 10;
    return {
      guideMb: mb(guide.bytes / 1024 / 1024),
      channels: first.channels,
      programmes: first.programmes,
      textMb: mb(first.textBytes / 1024 / 1024),
      loadMs: first.ms,
      reloadMs: second.ms,
      slowestHealthzMsDuringLoad: Math.round(healthDuringLoad),
      rssBeforeGuideMb: mb(before.rss),
      peakRssBeforeGuideMb: mb(before.peak),
      rssAfterLoadMb: mb(afterFirst.rss),
      peakRssFirstLoadMb: mb(afterFirst.peak),
      peakRssWithReloadMb: mb(afterReload.peak),
    };
  } finally {
    await server.stop();
  }
}
