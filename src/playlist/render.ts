import type { TokenHolder } from '../signing/backend-token.js';
import type { Origin } from '../signing/origin.js';
import {
  type Sha1Batch,
  type Sha1Lanes,
  type Sha1Slot,
  type Sha1Slots,
  sha1LanesAvailable,
  sha1Slots,
  writeSha1Fills,
} from '../signing/sha1-lanes.js';
import { type BoundQuery, bindQuery } from '../signing/sign.js';
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
  /** The subscriber, whom `backend` origins' tokens name. */
  holder?: TokenHolder;
}

const UNKNOWN_VIEWER_KEY = '[key]';

/** Where the output goes. */
export interface Output {
  /** A buffer of `size` bytes, whose every byte the render overwrites. */
  allocate(size: number): Buffer;
  /**
   * A kernel instance to sign `template` in, if one can be had: the output is then a view of its
   * memory, and nothing is copied after signing.
   */
  lanes?(template: Buffer): Sha1Lanes | undefined;
}

const FRESH_BUFFERS: Output = { allocate: Buffer.allocUnsafe };

/**
 * Signs every entry for one viewer, into one buffer of exactly the playlist's size. Pure: the same
 * inputs give the same bytes.
 */
export function renderPlaylist(playlist: CompiledPlaylist, viewer: Viewer, output: Output = FRESH_BUFFERS): Buffer {
  const fills = signFills(playlist, viewer);
  if (fills.width === VARIED_WIDTH) return assemble(playlist, fills, output.allocate);
  // The usual case: every fill as wide as the others, so the fixed text is one copy of a template.
  const layout = layoutFor(playlist, fills.width);
  const batches: Sha1Batch[] = [];
  const oneByOne: SlotGroup[] = [];
  // Without the batch signer (no WebAssembly SIMD here), every slot is signed on its own through
  // its query's writeDigest: slower, and the same bytes.
  const batching = sha1LanesAvailable();
  for (const group of layout.groups) {
    const query = group.origin && fills.queryFor(group.origin);
    if (batching && query?.sha1) batches.push({ slots: sha1SlotsOf(group, layout, playlist), fill: { frame: query.frame, ...query.sha1 } });
    else oneByOne.push(group);
  }
  const lanes = batches.length > 0 ? output.lanes?.(layout.template) : undefined;
  let out: Buffer;
  if (lanes) {
    out = lanes.fill(layout.template, batches);
  } else {
    out = output.allocate(layout.template.length);
    if (batches.length > 0) writeSha1Fills(out, layout.template, batches);
    else out.set(layout.template, 0);
  }
  for (const { slots } of oneByOne) {
    for (const slot of slots) fills.write(out, layout.slotOffsets[slot]!, layout.slotEntries[slot]!);
  }
  return out;
}

const VARIED_WIDTH = -1;

/** What goes in each entry's slots, and how to write it. */
interface Fills {
  /** Bytes of every fill when they are all alike (one origin, the usual case), else VARIED_WIDTH. */
  width: number;
  widthOf(entry: number): number;
  write(out: Buffer, at: number, entry: number): void;
}

/** A viewer's fills, and the query each origin is bound to. */
interface SignedFills extends Fills {
  queryFor(origin: Origin): BoundQuery;
}

/**
 * Each entry's fill is a frame its origin shares for this viewer (the query, or in redirect mode the
 * playlist key) with the entry's own digest written into it: ASCII throughout, one byte a character.
 * Nothing here is as long as the playlist: a 20,000-channel one would otherwise allocate an array
 * per response in V8's large-object space (an mmap and a munmap each).
 */
function signFills(playlist: CompiledPlaylist, viewer: Viewer): SignedFills {
  const { entries } = playlist;
  const queryFor = boundQueries(viewer);
  const keyFrame = Buffer.from(viewer.key ?? UNKNOWN_VIEWER_KEY, 'utf8');
  const frameOf = (entry: number): Buffer => (entries[entry]!.redirect ? keyFrame : queryFor(entries[entry]!.origin).frame);
  const { origins, redirects } = fillKindsOf(playlist);
  let width = entries.length === 0 ? 0 : redirects ? keyFrame.length : queryFor(origins[0]!).frame.length;
  for (const origin of origins) if (queryFor(origin).frame.length !== width) width = VARIED_WIDTH;
  // Slots are written in order, and an entry's second slot (its catch-up source) follows its first
  // with the same fill: copied, not signed again.
  let lastEntry = -1;
  let lastAt = 0;
  return {
    width,
    queryFor,
    widthOf: (entry) => frameOf(entry).length,
    write(out, at, entry) {
      const frame = frameOf(entry);
      if (entry === lastEntry) {
        out.copyWithin(at, lastAt, lastAt + frame.length);
      } else {
        out.set(frame, at);
        if (!entries[entry]!.redirect) queryFor(entries[entry]!.origin).writeDigest(entries[entry]!.signable, out, at);
      }
      lastEntry = entry;
      lastAt = at;
    },
  };
}

/** What kinds of fill a playlist's entries take: the origins that sign some, and whether some are redirect links. */
interface FillKinds {
  origins: Origin[];
  redirects: boolean;
}

/** Per compiled playlist, found on first use: a memo, like the layouts below. */
const fillKinds = new WeakMap<CompiledPlaylist, FillKinds>();

function fillKindsOf(playlist: CompiledPlaylist): FillKinds {
  let kinds = fillKinds.get(playlist);
  if (!kinds) {
    const origins = new Set<Origin>();
    let redirects = false;
    for (const entry of playlist.entries) {
      if (entry.redirect) redirects = true;
      else origins.add(entry.origin);
    }
    fillKinds.set(playlist, (kinds = { origins: [...origins], redirects }));
  }
  return kinds;
}

/** The fixed text laid out for fills of one width, with where each fill goes. */
interface Layout {
  template: Buffer;
  slotOffsets: Int32Array;
  /** The entry whose fill goes in each slot (an entry with catch-up has two slots). */
  slotEntries: Int32Array;
  /** The slots by origin, and the redirect-mode slots on their own. */
  groups: SlotGroup[];
}

/** Slots whose fills one bound query writes: an origin's, or (origin undefined) redirect links. */
interface SlotGroup {
  origin: Origin | undefined;
  /** Indices into the layout's slots, in order: an entry's slots come one after the other. */
  slots: number[];
  /** The group as the batch signer takes it, made on first use. */
  sha1?: Sha1Slots;
}

function groupSlots(playlist: CompiledPlaylist, slotEntries: Int32Array): SlotGroup[] {
  const groups = new Map<Origin | undefined, SlotGroup>();
  slotEntries.forEach((entryIndex, slot) => {
    const entry = playlist.entries[entryIndex]!;
    const origin = entry.redirect ? undefined : entry.origin;
    let group = groups.get(origin);
    if (!group) groups.set(origin, (group = { origin, slots: [] }));
    group.slots.push(slot);
  });
  return [...groups.values()];
}

/** One batch slot per entry of the group; an entry's further slot (its catch-up source) gets a copy. */
function sha1SlotsOf(group: SlotGroup, layout: Layout, playlist: CompiledPlaylist): Sha1Slots {
  if (group.sha1) return group.sha1;
  const slots: Sha1Slot[] = [];
  const subjects: Buffer[] = [];
  let subjectStart = 0;
  group.slots.forEach((slot, i) => {
    const entry = layout.slotEntries[slot]!;
    const last = slots[slots.length - 1];
    // An entry's slots are consecutive and share its origin, so its first one is just before.
    if (last && i > 0 && layout.slotEntries[group.slots[i - 1]!] === entry) {
      if (last.copyAt !== -1) throw new Error('an entry has more than two fills');
      last.copyAt = layout.slotOffsets[slot]!;
      return;
    }
    const subject = Buffer.from(playlist.entries[entry]!.signable.subject.text, 'utf8');
    slots.push({ subjectStart, subjectLength: subject.length, fillAt: layout.slotOffsets[slot]!, copyAt: -1 });
    subjects.push(subject);
    subjectStart += subject.length;
  });
  return (group.sha1 = sha1Slots(slots, subjects));
}

/**
 * Layouts per compiled playlist and fill width, built on first use. A memo, not state: the
 * output never depends on it, and a playlist compiled anew (a lineup change) starts without one.
 */
const layouts = new WeakMap<CompiledPlaylist, Map<number, Layout>>();

function layoutFor(playlist: CompiledPlaylist, fillWidth: number): Layout {
  let byLength = layouts.get(playlist);
  if (!byLength) layouts.set(playlist, (byLength = new Map()));
  let layout = byLength.get(fillWidth);
  if (!layout) {
    const offsets: number[] = [];
    const owners: number[] = [];
    const blanks: Fills = {
      width: fillWidth,
      widthOf: () => fillWidth,
      write: (out, at) => void out.fill(0x20, at, at + fillWidth),
    };
    const template = assemble(playlist, blanks, Buffer.allocUnsafe, (entry, offset) => {
      owners.push(entry);
      offsets.push(offset);
    });
    const slotEntries = Int32Array.from(owners);
    layout = { template, slotOffsets: Int32Array.from(offsets), slotEntries, groups: groupSlots(playlist, slotEntries) };
    byLength.set(fillWidth, layout);
  }
  return layout;
}

/** Pieces and fills copied in one by one; reports where each fill went. */
function assemble(
  playlist: CompiledPlaylist,
  fills: Fills,
  allocate: Output['allocate'],
  onSlot?: (entry: number, offset: number) => void,
): Buffer {
  const { entries, header } = playlist;
  let size = header.length;
  for (let i = 0; i < entries.length; i++) size += entries[i]!.fixedBytes + (entries[i]!.pieces.length - 1) * fills.widthOf(i);
  const out = allocate(size);
  out.set(header, 0);
  let at = header.length;
  for (let i = 0; i < entries.length; i++) {
    const pieces = entries[i]!.pieces;
    out.set(pieces[0]!, at);
    at += pieces[0]!.length;
    for (let piece = 1; piece < pieces.length; piece++) {
      onSlot?.(i, at);
      fills.write(out, at, i);
      at += fills.widthOf(i);
      out.set(pieces[piece]!, at);
      at += pieces[piece]!.length;
    }
  }
  // The buffer is not zeroed and may be a recycled one: a miscount must fail loudly, never serve stale bytes.
  if (at !== size) throw new Error(`rendered ${at} of ${size} bytes`);
  return out;
}

/**
 * Each origin's query bound to the viewer once per playlist, so that a channel costs one hash.
 * Channels mostly share an origin, so the last one is remembered before the map is asked.
 */
function boundQueries({ ip, now, salt, holder }: Viewer): (origin: Origin) => BoundQuery {
  const bound = new Map<Origin, BoundQuery>();
  let lastOrigin: Origin | undefined;
  let lastQuery: BoundQuery | undefined;
  return (origin) => {
    if (origin === lastOrigin) return lastQuery!;
    let query = bound.get(origin);
    if (!query) {
      query = bindQuery(ip, now, origin, salt, holder);
      bound.set(origin, query);
    }
    lastOrigin = origin;
    lastQuery = query;
    return query;
  };
}
