/**
 * XMLTV times: `YYYYMMDDhhmmss ±hhmm`. The format lets the seconds, minutes and hours go (a guide
 * with minute precision is common), and the offset too, which is then taken as UTC. Offsets are
 * also seen with a colon (`+01:00`), stuck to the digits, or as `Z`, `UTC` or `GMT`.
 *
 * Read character by character rather than with a regular expression: a guide has two times per
 * programme, and a match array and a Date for each made the parse's garbage outlive V8's young
 * generation, which then doubled, for 16 MB more RSS at a 50 MB guide.
 */
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const ZERO = 48;

/** An XMLTV time as unix seconds; undefined when it is not one (a month 13 included). */
export function parseXmltvTime(text: string): number | undefined {
  let i = 0;
  const end = text.length;
  const isDigit = (at: number) => at < end && text.charCodeAt(at) >= ZERO && text.charCodeAt(at) <= ZERO + 9;
  /** The number of `count` digits at i, moving past them; -1 when they are not all digits. */
  const digits = (count: number) => {
    let value = 0;
    for (let k = 0; k < count; k++, i++) {
      if (!isDigit(i)) return -1;
      value = value * 10 + text.charCodeAt(i) - ZERO;
    }
    return value;
  };
  while (i < end && text.charCodeAt(i) === 32) i++;
  const year = digits(4);
  const month = digits(2);
  const day = digits(2);
  const hour = isDigit(i) ? digits(2) : 0;
  const minute = isDigit(i) ? digits(2) : 0;
  const second = isDigit(i) ? digits(2) : 0;
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return undefined;
  }
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 1 : 0;
  if (day > DAYS_IN_MONTH[month - 1]! + leap || isDigit(i)) return undefined;
  while (i < end && text.charCodeAt(i) === 32) i++;
  let offsetMinutes = 0;
  const sign = text.charCodeAt(i);
  if (sign === 43 || sign === 45) {
    i++;
    const hours = digits(2);
    if (text.charCodeAt(i) === 58) i++;
    const minutes = digits(2);
    if (hours < 0 || minutes < 0 || hours * 60 + minutes > 14 * 60) return undefined;
    offsetMinutes = (sign === 45 ? -1 : 1) * (hours * 60 + minutes);
  } else if (i < end) {
    const zone = text.slice(i, i + 3).toUpperCase();
    if (zone === 'UTC' || zone === 'GMT') i += 3;
    else if (zone[0] === 'Z') i += 1;
    else return undefined;
  }
  while (i < end && text.charCodeAt(i) === 32) i++;
  if (i !== end) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second) / 1000 - offsetMinutes * 60;
}

/** Unix seconds as an XMLTV time, in UTC: `20261203110000 +0000`. */
export function formatXmltvTime(unixSeconds: number): string {
  const iso = new Date(unixSeconds * 1000).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)} +0000`;
}
