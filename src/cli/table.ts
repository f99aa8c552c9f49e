import type { CliIo } from './command.js';

/** Columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function printTable(header: string[], rows: string[][], io: CliIo): void {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => row[column]!.length)));
  for (const row of all) {
    io.stdout(
      `${row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  }
}
