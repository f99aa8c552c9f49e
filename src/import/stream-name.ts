/**
 * The stream name inside a Flussonic-style playback URL: `…/NAME/index.m3u8`, `…/NAME/video.m3u8`,
 * `…/NAME/mono.m3u8`, `…/NAME/index.mpd` or `…/NAME/mpegts`, in any letter case (exports from
 * some panels write `INDEX.M3U8`). Nested names (`live/ch1`) are kept whole and as written, since
 * the server's stream names are case-sensitive; the query string (an old token, usually) is
 * dropped. Undefined when the URL has no such shape, since guessing would sign a name the server
 * does not know.
 */
export function streamFromUrl(url: string): string | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const match = /^\/(.+?)\/(?:(?:index|video|mono)\.(?:m3u8|mpd)|mpegts)$/i.exec(path);
  if (!match) return undefined;
  try {
    return match[1]!.split('/').map(decodeURIComponent).join('/');
  } catch {
    return undefined;
  }
}

/** Why a stream name cannot be signed or stored, or undefined when it is fine. */
export function streamNameProblem(stream: string): string | undefined {
  if (stream.trim() === '') return 'the stream name is empty';
  if (stream.startsWith('/')) return `stream name "${stream}" starts with /`;
  if (/[\s?#"]/.test(stream) || /\p{Cc}/u.test(stream)) return `stream name ${JSON.stringify(stream)} holds spaces, quotes, ? or #`;
  if (stream.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    return `stream name "${stream}" has an empty, . or .. segment`;
  }
  return undefined;
}
