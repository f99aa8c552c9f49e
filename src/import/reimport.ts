import type { ImportEntry } from './upstream-m3u.js';

/** The channel values that an import writes and tracks. */
export type ImportedValues = Pick<ImportEntry, 'name' | 'number' | 'groupTitle' | 'logo' | 'tvgId' | 'catchupDays' | 'radio'>;

const FIELDS = ['name', 'number', 'groupTitle', 'logo', 'tvgId', 'catchupDays', 'radio'] as const satisfies ReadonlyArray<keyof ImportedValues>;

export function importedValues(entry: ImportEntry): ImportedValues {
  const { name, number, groupTitle, logo, tvgId, catchupDays, radio } = entry;
  return { name, number, groupTitle, logo, tvgId, catchupDays, radio };
}

export const sameValues = (a: ImportedValues, b: ImportedValues): boolean => FIELDS.every((field) => a[field] === b[field]);

/**
 * A three-way merge for a re-import: each field follows upstream (`incoming`) only while the
 * channel still holds what the import wrote last time (`lastImported`). A field that differs was
 * changed by an operator, and keeps the operator's value.
 */
export function mergeReimport(current: ImportedValues, lastImported: ImportedValues, incoming: ImportedValues): ImportedValues {
  const merged = { ...current };
  for (const field of FIELDS) {
    if (current[field] === lastImported[field]) (merged as Record<typeof field, unknown>)[field] = incoming[field];
  }
  return merged;
}
