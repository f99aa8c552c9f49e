import type { Origin } from '../signing/origin.js';
import { type BoundQuerySigner, bindQuerySigner } from '../signing/sign.js';
import type { CompiledPlaylist } from './compile.js';

export interface Viewer {
  /** The address the origin will see, already normalised. */
  ip: string;
  /** Unix seconds. */
  now: number;
  /** `[0-9a-f]{16,32}`, drawn once per response. */
  salt: string;
  /**
   * The subscriber's playlist key, for redirect-mode links. `lineup render` has none (only its hash
   * is stored), so those links show UNKNOWN_VIEWER_KEY.
   */
  key?: string;
}

export const UNKNOWN_VIEWER_KEY = '[key]';

/** Signs every entry for one viewer. Pure: the same inputs give the same bytes. */
export function renderPlaylist(playlist: CompiledPlaylist, viewer: Viewer): string {
  const signerFor = boundSigners(viewer);
  let out = playlist.header;
  const key = viewer.key ?? UNKNOWN_VIEWER_KEY;
  for (const entry of playlist.entries) {
    const fill = entry.redirect ? key : signerFor(entry.origin)(entry.stream, entry.path);
    out += entry.head + fill + (entry.rest === undefined ? '\n' : entry.rest.join(fill));
  }
  return out;
}

/**
 * Each origin's signer bound to the viewer once per playlist, so that a channel costs one hash.
 * Channels mostly share an origin, so the last one is remembered before the map is asked.
 */
function boundSigners({ ip, now, salt }: Viewer): (origin: Origin) => BoundQuerySigner {
  const bound = new Map<Origin, BoundQuerySigner>();
  let lastOrigin: Origin | undefined;
  let lastSigner: BoundQuerySigner | undefined;
  return (origin) => {
    if (origin === lastOrigin) return lastSigner!;
    let signer = bound.get(origin);
    if (!signer) {
      signer = bindQuerySigner(ip, now, origin, salt);
      bound.set(origin, signer);
    }
    lastOrigin = origin;
    lastSigner = signer;
    return signer;
  };
}
