import { querySigners } from '../signing/sign.js';
import type { CompiledPlaylist } from './compile.js';

export interface Viewer {
  /** The address the origin will see, already normalised. */
  ip: string;
  /** Unix seconds. */
  now: number;
  /** `[0-9a-f]{16,32}`, drawn once per response. */
  salt: string;
}

/** Signs every entry for one viewer. Pure: the same inputs give the same bytes. */
export function renderPlaylist(playlist: CompiledPlaylist, viewer: Viewer): string {
  let out = playlist.header;
  for (const entry of playlist.entries) {
    const signQuery = querySigners[entry.origin.scheme];
    out += entry.head + signQuery(entry.stream, entry.path, viewer.ip, viewer.now, entry.origin, viewer.salt) + '\n';
  }
  return out;
}
