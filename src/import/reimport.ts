import { CHANNEL_VALUE_FIELDS, type ChannelField, type ChannelValues } from '../channels/channel-fields.js';

/** The channel values that an import writes and tracks: all of them. */
export type ImportedValues = ChannelValues;

/** Just the values of an entry, without its stream and line. */
export function importedValues(entry: ImportedValues): ImportedValues {
  const values = {} as Record<ChannelField, unknown>;
  for (const field of CHANNEL_VALUE_FIELDS) values[field] = entry[field];
  return values as ImportedValues;
}

export const sameValues = (a: ImportedValues, b: ImportedValues): boolean => CHANNEL_VALUE_FIELDS.every((field) => a[field] === b[field]);

/**
 * A three-way merge for a re-import: each field follows upstream (`incoming`) only while the
 * channel still holds what the import wrote last time (`lastImported`). A field that differs was
 * changed by an operator, and keeps the operator's value.
 */
export function mergeReimport(current: ImportedValues, lastImported: ImportedValues, incoming: ImportedValues): ImportedValues {
  const merged = { ...current };
  for (const field of CHANNEL_VALUE_FIELDS) {
    if (current[field] === lastImported[field]) (merged as Record<ChannelField, unknown>)[field] = incoming[field];
  }
  return merged;
}

/**
 * Values that an entry may leave out: an M3U without `tvg-logo` says nothing about the logo, it
 * does not say "no logo". Two files often describe one channel (an upstream export and a list of
 * one's own), and only one of them carries logos.
 */
const UNSAID_WHEN_EMPTY = ['logo'] as const satisfies readonly ChannelField[];

/**
 * `incoming` with each value it leaves unsaid taken from what the import wrote last time. Merged
 * and recorded in place of `incoming`, it keeps a logo that another file (or, by the three-way
 * merge, the operator) set, and a later file that has one still updates it.
 */
export function withUnsaidKept(incoming: ImportedValues, lastImported: ImportedValues): ImportedValues {
  const kept = { ...incoming };
  for (const field of UNSAID_WHEN_EMPTY) if (incoming[field] === '') kept[field] = lastImported[field];
  return kept;
}
