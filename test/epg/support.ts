import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readGuideFile } from '../../src/epg/guide-file.js';
import type { GuideIndex } from '../../src/epg/guide-index.js';
import type { GuideLog } from '../../src/epg/live-guide.js';

/** A programme as a test writes it into a guide. */
export interface TestProgramme {
  channel: string;
  start: string;
  stop?: string;
  title: string;
  desc?: string;
  lang?: string;
}

/** Text for a test guide, escaped as grabbers do (`>` too: `]]>` is not allowed in XML text). */
const text = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const attribute = (value: string) => text(value).replace(/"/g, '&quot;');

/** An XMLTV document with these channels and programmes, as a grabber writes one. */
export function xmltv(channels: { id: string; name: string; icon?: string }[], programmes: TestProgramme[]): string {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<!DOCTYPE tv SYSTEM "xmltv.dtd">', '<tv generator-info-name="test">'];
  for (const channel of channels) {
    lines.push(`  <channel id="${attribute(channel.id)}">`, `    <display-name lang="en">${text(channel.name)}</display-name>`);
    if (channel.icon) lines.push(`    <icon src="${attribute(channel.icon)}" />`);
    lines.push('  </channel>');
  }
  for (const p of programmes) {
    const stop = p.stop === undefined ? '' : ` stop="${p.stop}"`;
    const lang = p.lang === undefined ? '' : ` lang="${attribute(p.lang)}"`;
    lines.push(`  <programme start="${p.start}"${stop} channel="${attribute(p.channel)}">`, `    <title${lang}>${text(p.title)}</title>`);
    if (p.desc !== undefined) lines.push(`    <desc${lang}>${text(p.desc)}</desc>`);
    lines.push('    <category lang="en">News</category>', '  </programme>');
  }
  lines.push('</tv>', '');
  return lines.join('\n');
}

/** Writes a guide into `dir` (gzipped if asked) and returns its path. */
export function writeGuide(dir: string, name: string, document: string, gzip = false): string {
  const path = join(dir, name);
  writeFileSync(path, gzip ? gzipSync(document) : document);
  return path;
}

export async function indexOf(dir: string, document: string): Promise<GuideIndex> {
  return (await readGuideFile(writeGuide(dir, `guide-${Math.random().toString(36).slice(2)}.xml`, document))).index;
}

/** A guide log that keeps its lines, for tests that wait for a load or read why one failed. */
export function recordingLog(): GuideLog & { lines: { level: string; fields: Record<string, unknown>; message: string }[] } {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  return {
    lines,
    info: (fields, message) => lines.push({ level: 'info', fields: fields as Record<string, unknown>, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields: fields as Record<string, unknown>, message }),
  };
}

/** Unix seconds of an ISO time. */
export const at = (iso: string) => Date.parse(iso) / 1000;
