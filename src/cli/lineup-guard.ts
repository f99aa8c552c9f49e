import type pg from 'pg';
import { readLintInput } from '../db/lint-store.js';
import { findPostgresDemo, removePostgresDemo } from '../db/pg/demo.js';
import { readPostgresLintInput } from '../db/pg/lint-store.js';
import { demoChannelIds, type RemovedDemo, removeDemoLineup } from '../db/seed.js';
import type { SqlSession } from '../db/sql-session.js';
import type { AsyncTransactionHooks, TransactionHooks } from '../db/transaction-hooks.js';
import { LineupError } from '../errors.js';
import { type Finding, type LintInput, lintLineup, newErrors } from '../lint/lint.js';
import type { SqlTime } from '../time.js';
import type { CliIo } from './command.js';
import { describeRemovedDemo } from './demo.js';
import { printFindings } from './lint.js';
import { count } from './plural.js';

/** A file rolled back because it would have left lint errors that the lineup did not have. */
class NewLintErrorsError extends LineupError {
  override name = 'NewLintErrorsError';
  constructor(
    file: string,
    added: Finding[],
    /** Every finding of the lineup as the file would have left it, for the report. */
    readonly findings: Finding[],
  ) {
    super(
      `${file}: rolled back: it would add ${count(added.length, 'lint error')} (${added
        .map((finding) => `${finding.code}: ${finding.message}`)
        .join('; ')}); fix the file, or apply it anyway with --force`,
    );
  }
}

interface GuardOptions {
  /** Commit even when the file adds lint errors. */
  force: boolean;
  /**
   * When the demo lineup goes: as an import begins (`import`), once a script has changed a
   * channel that was not the demo's (`script`), or not at all (`keep`).
   */
  demo: 'import' | 'script' | 'keep';
}

/** The channels that differ between two readings of the lineup: added, removed or changed. */
function changedChannelIds(before: LintInput, after: LintInput): number[] {
  const rows = (input: LintInput) => new Map(input.channels.map((channel) => [channel.id, JSON.stringify(channel)]));
  const was = rows(before);
  const is = rows(after);
  const ids = new Set([...was.keys(), ...is.keys()]);
  return [...ids].filter((id) => was.get(id) !== is.get(id));
}

/** The lineup's findings after a file, and the new errors that --force let through; refuses them otherwise. */
function checkLint(file: string, before: LintInput, after: LintInput, force: boolean): { findings: Finding[]; forced: Finding[] } {
  const findings = lintLineup(after);
  const added = newErrors(lintLineup(before), findings);
  if (added.length > 0 && !force) throw new NewLintErrorsError(file, added, findings);
  return { findings, forced: added };
}

/**
 * The checks `lineup sql` and `lineup import` make inside each file's transaction: the lineup is
 * linted before and after, and a file that brings in new lint errors is rolled back unless
 * forced, while errors that were there before never block. The first real channel change takes
 * the demo lineup out in the same transaction; editing or deleting demo channels is not one.
 */
export class LineupGuard implements TransactionHooks {
  /** The findings as committed (or as the file would have left them). */
  findings: Finding[] = [];
  /** New errors that --force let through. */
  forced: Finding[] = [];
  removedDemo: RemovedDemo | undefined;
  private before: LintInput | undefined;
  private demoBefore = new Set<number>();

  constructor(
    private readonly sql: SqlSession,
    private readonly file: string,
    private readonly now: SqlTime,
    private readonly options: GuardOptions,
  ) {}

  begin(): void {
    this.before = readLintInput(this.sql, this.now);
    if (this.options.demo === 'import') this.removeDemo();
    if (this.options.demo === 'script') this.demoBefore = new Set(demoChannelIds(this.sql));
  }

  beforeCommit(): void {
    const before = this.before!;
    let after = readLintInput(this.sql, this.now);
    const realChange = () => changedChannelIds(before, after).some((id) => !this.demoBefore.has(id));
    if (this.options.demo === 'script' && this.demoBefore.size > 0 && realChange() && this.removeDemo()) {
      after = readLintInput(this.sql, this.now);
    }
    Object.assign(this, checkLint(this.file, before, after, this.options.force));
  }

  /** Whether anything of the demo went. */
  private removeDemo(): boolean {
    const removed = removeDemoLineup(this.sql, { onlyWithDemoChannels: true });
    if (removed.channels.length === 0 && removed.subscriber === undefined) return false;
    this.removedDemo = removed;
    return true;
  }
}

/**
 * `LineupGuard` in its `script` mode on PostgreSQL, where reads are asynchronous: the same lint
 * rules (`checkLint`) over the same queries, and the same demo rule over the same demo queries.
 */
export class PostgresLineupGuard implements AsyncTransactionHooks {
  findings: Finding[] = [];
  forced: Finding[] = [];
  removedDemo: RemovedDemo | undefined;
  private before: LintInput | undefined;
  private demoBefore = new Set<number>();

  constructor(
    private readonly client: pg.ClientBase,
    private readonly file: string,
    private readonly now: SqlTime,
    private readonly force: boolean,
  ) {}

  async begin(): Promise<void> {
    this.before = await readPostgresLintInput(this.client, this.now);
    this.demoBefore = new Set((await findPostgresDemo(this.client)).channels.map((channel) => channel.id));
  }

  async beforeCommit(): Promise<void> {
    const before = this.before!;
    let after = await readPostgresLintInput(this.client, this.now);
    const realChange = changedChannelIds(before, after).some((id) => !this.demoBefore.has(id));
    if (this.demoBefore.size > 0 && realChange) {
      const removed = await removePostgresDemo(this.client);
      if (removed.channels.length > 0 || removed.subscriber !== undefined) {
        this.removedDemo = removed;
        after = await readPostgresLintInput(this.client, this.now);
      }
    }
    Object.assign(this, checkLint(this.file, before, after, this.force));
  }
}

/** What the guard did besides checking: the demo it removed, the errors --force let through. */
export function reportGuard(guard: LineupGuard | PostgresLineupGuard, io: CliIo, prefix = ''): void {
  const demo = guard.removedDemo && describeRemovedDemo(guard.removedDemo);
  if (demo) io.stdout(`${prefix}removed the demo lineup: ${demo}; lineup demo remove does this by hand\n`);
  if (guard.forced.length > 0) io.stdout(`${prefix}applied with --force despite ${count(guard.forced.length, 'new lint error')}\n`);
}

/** Runs `body`; when the guard refuses, prints the findings the file would have left, then lets the error through. */
export function withGuardReport<T>(io: CliIo, body: () => T): T {
  try {
    const result = body();
    if (result instanceof Promise) return result.catch((error) => reportRefusal(io, error)) as T;
    return result;
  } catch (error) {
    return reportRefusal(io, error);
  }
}

function reportRefusal(io: CliIo, error: unknown): never {
  if (error instanceof NewLintErrorsError) printFindings(error.findings, io);
  throw error;
}
