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

/**
 * Signs every entry for one viewer, into one buffer of exactly the playlist's size: the fills
 * first (one hash each), then the pre-encoded pieces and fills copied in. Pure: the same inputs
 * give the same bytes.
 */
export function renderPlaylist(playlist: CompiledPlaylist, viewer: Viewer): Buffer {
  const signerFor = boundSigners(viewer);
  const key = viewer.key ?? UNKNOWN_VIEWER_KEY;
  const { entries, header } = playlist;
  const fills = new Array<string>(entries.length);
  let size = header.length;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const fill = entry.redirect ? key : signerFor(entry.origin)(entry.stream, entry.path);
    fills[i] = fill;
    size += entry.fixedBytes + (entry.pieces.length - 1) * Buffer.byteLength(fill);
  }
  const out = Buffer.allocUnsafe(size);
  let at = header.copy(out, 0);
  for (let i = 0; i < entries.length; i++) {
    const pieces = entries[i]!.pieces;
    const fill = fills[i]!;
    at += pieces[0]!.copy(out, at);
    for (let piece = 1; piece < pieces.length; piece++) {
      at += out.write(fill, at);
      at += pieces[piece]!.copy(out, at);
    }
  }
  // allocUnsafe's memory is not zeroed: a miscount must fail loudly, never serve stale bytes.
  if (at !== size) throw new Error(`rendered ${at} of ${size} bytes`);
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
