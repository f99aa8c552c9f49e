/**
 * M3U has no escaping, and these values come from operators' SQL. Anything that could end a line,
 * close an attribute or start another entry is neutralised here, once per lineup change.
 */
// CR, LF and the other C0/C1 controls, plus Unicode line and paragraph separators.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const LINE_BREAKERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** A value for `key="…"`, or the display name after the comma: one line, no double quote. */
export function lineText(value: string): string {
  return value.replace(LINE_BREAKERS, ' ').replaceAll('"', "'").replace(/ {2,}/g, ' ').trim();
}

/** A URL for its own line: one line, and no comma (some players treat it as a separator). */
export function urlLine(value: string): string {
  return value.replace(LINE_BREAKERS, '').replaceAll(',', '%2C').replaceAll('"', '%22').replaceAll(' ', '%20');
}
