/**
 * Characters XML 1.0 cannot carry at all, even escaped: C0 controls but tab, LF and CR, the two
 * non-characters U+FFFE and U+FFFF, and lone surrogates. A channel name typed into SQLite may hold
 * any of them; a guide that parsed cannot.
 */
const NOT_XML =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const SPECIAL = /[&<>"']/g;
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Text as XML character data or an attribute value (either quote): escaped, and stripped of what XML cannot hold. */
export function escapeXml(text: string): string {
  return text.replace(NOT_XML, '').replace(SPECIAL, (char) => ENTITIES[char]!);
}
