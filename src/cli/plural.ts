/** `1 statement`, `2 statements`: a count with its noun, for messages a person reads. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
