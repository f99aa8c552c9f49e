import type { GuideProgramme } from './epg-listings.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 forbids these characters, so they go.
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function xml(text: string): string {
  return text.replace(NOT_XML, '').replace(/[&<>"']/g, (character) => ENTITIES[character]!);
}

/** XMLTV's time: `YYYYMMDDHHMMSS +0000`. */
function xmltvTime(unixSeconds: number): string {
  return `${new Date(unixSeconds * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14)} +0000`;
}

/** A channel of the document: its `<channel id>` (a tvg_id) and the name apps show. */
export interface XmltvChannel {
  id: string;
  name: string;
  icon: string;
}

/**
 * An XMLTV document (root `<tv>`) holding exactly `channels`, each with the programmes `programmesOf`
 * gives for it.
 */
export function xmltvDocument(channels: readonly XmltvChannel[], programmesOf: (id: string) => readonly GuideProgramme[]): string {
  const parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<tv generator-info-name="Lineup">\n'];
  for (const channel of channels) {
    parts.push(`  <channel id="${xml(channel.id)}">\n    <display-name>${xml(channel.name)}</display-name>\n`);
    if (channel.icon !== '') parts.push(`    <icon src="${xml(channel.icon)}"/>\n`);
    parts.push('  </channel>\n');
  }
  for (const channel of channels) {
    for (const programme of programmesOf(channel.id)) {
      const lang = programme.lang === '' ? '' : ` lang="${xml(programme.lang)}"`;
      parts.push(
        `  <programme start="${xmltvTime(programme.start)}" stop="${xmltvTime(programme.stop)}" channel="${xml(channel.id)}">\n`,
        `    <title${lang}>${xml(programme.title)}</title>\n`,
        programme.description === '' ? '' : `    <desc${lang}>${xml(programme.description)}</desc>\n`,
        '  </programme>\n',
      );
    }
  }
  parts.push('</tv>\n');
  return parts.join('');
}
