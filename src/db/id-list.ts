/** A `group_concat(id)` column back to numbers; SQLite gives NULL for an empty group. */
export function idList(concatenated: string | null): number[] {
  return concatenated ? concatenated.split(',').map(Number) : [];
}
