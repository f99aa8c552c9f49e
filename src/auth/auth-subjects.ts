import { keyFingerprint } from '../signing/backend-token.js';
import { SubscriberChangeFollower, type SubscriberChangeLog } from '../subscribers/remembered-access.js';
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

/** Where subscribers are read by id: the database. */
export interface AuthSubjectSource {
  findAuthSubject(id: number): AuthSubjectRow | undefined;
}

/**
 * Subscribers by id, remembered until they change (as RememberedAccess does by key, from the same
 * change log): a stream check then reads nothing, and a disable, renewal, package change or key
 * rotation from any process is seen by the very next check, while a prune chunk forgets only whom
 * it deleted. Unknown ids are remembered too (as undefined), so that a forged-looking but
 * valid-MAC token cannot make each check a query; an insert logs its id, which forgets that too.
 */
export class RememberedSubjects {
  private readonly byId = new Map<number, AuthSubject | undefined>();
  private readonly follower: SubscriberChangeFollower;

  constructor(
    private readonly source: AuthSubjectSource,
    changes: SubscriberChangeLog,
    currentGeneration: () => number,
    private readonly maxEntries: number,
  ) {
    this.follower = new SubscriberChangeFollower(changes, currentGeneration);
  }

  find(id: number): AuthSubject | undefined {
    const changed = this.follower.changed();
    if (changed === undefined) this.byId.clear();
    else for (const changedId of changed) this.byId.delete(changedId);
    if (this.byId.has(id)) return this.byId.get(id);
    const row = this.source.findAuthSubject(id);
    const subject = row && { ...row, keyFingerprint: keyFingerprint(row.keyHash), packages: new Set(row.packageIds) };
    if (this.byId.size >= this.maxEntries) this.byId.delete(this.byId.keys().next().value!);
    this.byId.set(id, subject);
    return subject;
  }
}
