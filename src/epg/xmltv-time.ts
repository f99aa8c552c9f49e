/**
 * XMLTV times: `YYYYMMDDhhmmss ±hhmm`. The format lets the seconds, minutes and hours go (a guide
 * with minute precision is common), and the offset too, which is then taken as UTC. Offsets are
 * also seen with a colon (`+01:00`), stuck to the digits, or as `Z`, `UTC` or `GMT`.
 */
const XMLTV_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})?(\d{2})?(\d{2})?\s*(?:([+-])(\d{2}):?(\d{2})|Z|UTC|GMT)?$/i;

/** An XMLTV time as unix seconds; undefined when it is not one (a month 13 included). */
export function parseXmltvTime(text: string): number | undefined {
  const match = XMLTV_TIME.exec(text.trim());
  if (!match) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((part) => (part === undefined ? 0 : Number(part)));
  const local = Date.UTC(year!, month! - 1, day!, hour, minute, second);
  const date = new Date(local);
  // Date.UTC rolls a 13th month or a 32nd day over into the next; a guide that says so is wrong, not late.
  if (date.getUTCMonth() !== month! - 1 || date.getUTCDate() !== day! || hour > 23 || minute > 59 || second > 59) return undefined;
  const offsetMinutes = match[7] === undefined ? 0 : (match[7] === '-' ? -1 : 1) * (Number(match[8]) * 60 + Number(match[9]));
  if (Math.abs(offsetMinutes) > 14 * 60) return undefined;
  return local / 1000 - offsetMinutes * 60;
}

/** Unix seconds as an XMLTV time, in UTC: `20261203110000 +0000`. */
export function formatXmltvTime(unixSeconds: number): string {
  const iso = new Date(unixSeconds * 1000).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)} +0000`;
}
