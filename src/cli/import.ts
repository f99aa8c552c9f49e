import { basename } from 'node:path';
import { importChannels } from '../db/import-store.js';
import { BadInputError } from '../errors.js';
import type { StreamSource, UpstreamPlaylist } from '../import/upstream-m3u.js';
import { toSqlTime } from '../time.js';
import { type CliIo, type Command, parseOptions, readInputFile, UsageError, withAdminParts } from './command.js';
import { LineupGuard, reportGuard, withGuardReport } from './lineup-guard.js';
import { printFindings } from './lint.js';
import { count } from './plural.js';

const BAR_WIDTH = 30;

/** A progress bar on stderr, redrawn only when it moves, for a person watching a big import. */
function progressBar(io: CliIo): ((done: number, total: number) => void) | undefined {
  if (!io.isTTY) return undefined;
  let drawn = -1;
  return (done, total) => {
    const percent = Math.floor((done / total) * 100);
    if (percent === drawn) return;
    drawn = percent;
    const filled = Math.round((percent / 100) * BAR_WIDTH);
    io.stderr(`\r[${'#'.repeat(filled)}${' '.repeat(BAR_WIDTH - filled)}] ${percent}% ${done}/${total}${done === total ? '\n' : ''}`);
  };
}

export const importCommand: Command = {
  name: 'import',
  summary: 'import channels from an upstream M3U (upsert; keeps hand edits)',
  help: `lineup import FILE [--package NAME] [--origin NAME] [--stream-from url|tvg-id] [--dry-run] [--force]

Reads an M3U (a UTF-8 BOM, CRLF line ends and leading blank lines are fine) and upserts its
channels in one transaction. The stream name comes from Flussonic-style URLs
(…/NAME/index.m3u8, …/NAME/video.m3u8, …/NAME/mpegts, in any letter case; nested names such as
live/ch1 are kept, the query string is dropped), or from tvg-id with --stream-from tvg-id.
tvg-chno becomes the number, group-title the group (else the #EXTGRP in effect); tvg-logo,
tvg-id, catchup-days and radio are kept too.

Importing the same file again changes nothing. A re-import updates what changed upstream, but a
field that was changed by hand since the last import (a number, say) keeps the hand-set value,
and an entry without tvg-logo keeps the logo the channel has. Entries without a URL or a usable
stream name are skipped and listed with their line. Like lineup sql, an import that would leave
lint errors the lineup did not have is rolled back (exit 1), and the first import removes the
demo lineup, saying so.

  --package NAME   link the imported channels to this package (created if missing); note that
                   a channel in a package is seen only by that package's subscribers
  --origin NAME    the channels play from this row of origins (default: the default origin)
  --stream-from tvg-id
                   take the stream name from tvg-id instead of the URL (the default, url)
  --dry-run        print the summary and change nothing
  --force          commit even if the import brings in new lint errors`,
  run: async (argv, io) => {
    const { values, positionals } = parseOptions(argv, {
      package: { type: 'string' },
      origin: { type: 'string' },
      'stream-from': { type: 'string' },
      'dry-run': { type: 'boolean' },
      force: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('import: name exactly one FILE');
    const file = positionals[0]!;
    const streamFrom = values['stream-from'] ?? 'url';
    if (streamFrom !== 'url' && streamFrom !== 'tvg-id') throw new UsageError(`--stream-from: "${streamFrom}" is not url or tvg-id`);
    if (values.package !== undefined && values.package.trim() === '') throw new UsageError('--package: the name is empty');
    if (values.origin !== undefined && values.origin.trim() === '') throw new UsageError('--origin: the name is empty');
    const text = readInputFile(file);
    // Loaded here, not at the top: the parser patches String.prototype, which the server must not get.
    const { parseUpstreamM3u } = await import('../import/upstream-m3u.js');
    let parsed: UpstreamPlaylist;
    try {
      parsed = parseUpstreamM3u(text, streamFrom as StreamSource);
    } catch (error) {
      if (error instanceof BadInputError) throw new BadInputError(`${file}:1: ${error.message}`);
      throw error;
    }
    const dryRun = values['dry-run'] === true;
    return withAdminParts(io, ({ sql, clock }) => {
      const onProgress = progressBar(io);
      // A file of which nothing could be read leaves the demo alone: it is not a real import yet.
      const guard = new LineupGuard(sql, file, toSqlTime(clock()), {
        force: values.force === true,
        demo: parsed.entries.length > 0 ? 'import' : 'keep',
      });
      for (const note of parsed.skipped) io.stdout(`${file}:${note.line}: skipped: ${note.reason}\n`);
      for (const note of parsed.warnings) io.stdout(`${file}:${note.line}: warning: ${note.reason}\n`);
      const summary = withGuardReport(io, () =>
        importChannels(sql, parsed.entries, {
          source: basename(file),
          origin: values.origin ?? null,
          ...(values.package !== undefined ? { packageName: values.package } : {}),
          dryRun,
          ...(onProgress ? { onProgress } : {}),
          hooks: guard,
        }),
      );
      const prefix = dryRun ? 'dry run, nothing written: ' : '';
      reportGuard(guard, io, dryRun ? 'dry run, would have: ' : '');
      // The lineup's report only when there is something to say: the summary stays the last line.
      if (guard.findings.length > 0) printFindings(guard.findings, io);
      if (values.package !== undefined) {
        io.stdout(`package "${values.package}"${summary.packageCreated ? ' (created)' : ''}: ${count(summary.linked, 'channel')} linked\n`);
      }
      io.stdout(
        `${prefix}${file}: ${summary.added} added, ${summary.updated} updated, ` +
          `${summary.unchanged} unchanged, ${parsed.skipped.length} skipped\n`,
      );
      return 0;
    });
  },
};
