import { type Awaitable, andThen } from '../awaitable.js';
import { keyFingerprint } from '../signing/backend-token.js';
import type { ChangedSubscribers } from '../subscribers/remembered-access.js';
import type { SqlTime } from '../time.js';

/** What a stream check needs to know about a subscriber, by id. */
export interface AuthSubjectRow {
  id: number;
  username: string;
  expiresAt: SqlTime;
  enabled: boolean;
  maxConnections: number;
  keyHash: string | undefined;
  packageIds: number[];
}

export interface AuthSubject extends AuthSubjectRow {
  /** The fingerprint of the current playlist key, as backend tokens carry it. */
  keyFingerprint: string;
  packages: ReadonlySet<number>;
}

/** Where subscribers are read by id: the database (SQLite at once, PostgreSQL with a round trip). */
export interface AuthSubjectSource {
  findAuthSubject(id: number): Awaitable<AuthSubjectRow | undefined>;
}

/**
 * Subscribers by id, remembered until they change (as RememberedAccess does by key, from the same
 * changes: SQLite's change log, or PostgreSQL's change feed): a stream check then reads nothing,
 * and a disable, renewal, package change or key rotation from any process or node is seen by the
 * very next check, while a prune chunk forgets only whom it deleted. Unknown ids are remembered
 * too (as undefined), so that a forged-looking but valid-MAC token cannot make each check a query;
 * an insert logs its id, which forgets that too.
 *
 * A lookup that waits (PostgreSQL) may have read the row before a change that is forgotten while
 * it waits: it answers its own check, but is not remembered (RememberedAccess's guard).
 */
export class RememberedSubjects {
  private readonly byId = new Map<number, AuthSubject | undefined>();
  /** Moves at each forget (of anyone, or of everyone). */
  private forgets = 0;

  constructor(
    private readonly source: AuthSubjectSource,
    private readonly changes: ChangedSubscribers,
    private readonly maxEntries: number,
  ) {}

  find(id: number): Awaitable<AuthSubject | undefined> {
    this.forgetChanged();
    if (this.byId.has(id)) return this.byId.get(id);
    const found = this.source.findAuthSubject(id);
    if (!(found instanceof Promise)) return this.remember(id, found);
    const forgetsBefore = this.forgets;
    return andThen(found, (row) => {
      this.forgetChanged();
      return this.forgets === forgetsBefore ? this.remember(id, row) : subjectOf(row);
    });
  }

  private remember(id: number, row: AuthSubjectRow | undefined): AuthSubject | undefined {
    const subject = subjectOf(row);
    if (this.byId.size >= this.maxEntries) this.byId.delete(this.byId.keys().next().value!);
    this.byId.set(id, subject);
    return subject;
  }

  private forgetChanged(): void {
    const changed = this.changes.changed();
    if (changed === undefined) this.byId.clear();
    else if (changed.length === 0) return;
    else for (const changedId of changed) this.byId.delete(changedId);
    this.forgets++;
  }
}

function subjectOf(row: AuthSubjectRow | undefined): AuthSubject | undefined {
  return row && { ...row, keyFingerprint: keyFingerprint(row.keyHash), packages: new Set(row.packageIds) };
}
