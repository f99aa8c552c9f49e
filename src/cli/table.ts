import type { CliIo } from './command.js';

/** Rows as aligned columns, two spaces apart, the header first; no trailing spaces. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map(
      (row) =>
        `${row
          .map((cell, column) => cell.padEnd(widths[column] ?? 0))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}

/** Columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function printTable(header: string[], rows: string[][], io: CliIo): void {
  io.stdout(formatTable([header, ...rows]));
}
