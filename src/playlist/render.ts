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
 * Signs every entry for one viewer, into one buffer of exactly the playlist's size. Pure: the same
 * inputs give the same bytes.
 */
export function renderPlaylist(playlist: CompiledPlaylist, viewer: Viewer): Buffer {
  const signerFor = boundSigners(viewer);
  const key = viewer.key ?? UNKNOWN_VIEWER_KEY;
  const { entries } = playlist;
  const fills = new Array<string>(entries.length);
  // Fills are ASCII (hex, digits, base64url, a well-formed key): one byte per character.
  let fillLength = -1;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const fill = entry.redirect ? key : signerFor(entry.origin)(entry.stream, entry.path);
    fills[i] = fill;
    fillLength = i === 0 || fill.length === fillLength ? fill.length : -2;
  }
  if (fillLength === -2) return assemble(playlist, fills);
  // The usual case: every fill as long as the others, so the fixed text is one copy of a template.
  const { template, slotOffsets, slotEntries } = layoutFor(playlist, Math.max(fillLength, 0));
  const out = Buffer.allocUnsafe(template.length);
  out.set(template, 0);
  for (let slot = 0; slot < slotOffsets.length; slot++) out.write(fills[slotEntries[slot]!]!, slotOffsets[slot]!, 'latin1');
  return out;
}

/** The fixed text laid out for fills of one length, with where each fill goes. */
interface Layout {
  template: Buffer;
  slotOffsets: Int32Array;
  /** The entry whose fill goes in each slot (an entry with catch-up has two slots). */
  slotEntries: Int32Array;
}

/**
 * Layouts per compiled playlist and fill length, built on first use. A memo, not state: the
 * output never depends on it, and a playlist compiled anew (a lineup change) starts without one.
 */
const layouts = new WeakMap<CompiledPlaylist, Map<number, Layout>>();

function layoutFor(playlist: CompiledPlaylist, fillLength: number): Layout {
  let byLength = layouts.get(playlist);
  if (!byLength) layouts.set(playlist, (byLength = new Map()));
  let layout = byLength.get(fillLength);
  if (!layout) {
    const offsets: number[] = [];
    const owners: number[] = [];
    const placeholder = ' '.repeat(fillLength);
    const template = assemble(playlist, playlist.entries.map(() => placeholder), (entry, offset) => {
      owners.push(entry);
      offsets.push(offset);
    });
    layout = { template, slotOffsets: Int32Array.from(offsets), slotEntries: Int32Array.from(owners) };
    byLength.set(fillLength, layout);
  }
  return layout;
}

/** Pieces and fills copied in one by one; reports where each fill went. */
function assemble(playlist: CompiledPlaylist, fills: readonly string[], onSlot?: (entry: number, offset: number) => void): Buffer {
  const { entries, header } = playlist;
  let size = header.length;
  for (let i = 0; i < entries.length; i++) size += entries[i]!.fixedBytes + (entries[i]!.pieces.length - 1) * fills[i]!.length;
  const out = Buffer.allocUnsafe(size);
  out.set(header, 0);
  let at = header.length;
  for (let i = 0; i < entries.length; i++) {
    const pieces = entries[i]!.pieces;
    out.set(pieces[0]!, at);
    at += pieces[0]!.length;
    for (let piece = 1; piece < pieces.length; piece++) {
      onSlot?.(i, at);
      at += out.write(fills[i]!, at, 'latin1');
      out.set(pieces[piece]!, at);
      at += pieces[piece]!.length;
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
