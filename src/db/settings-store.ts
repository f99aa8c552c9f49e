import type { Db } from './open.js';

/** Name/value pairs that Lineup keeps for itself, such as a generated securetoken key. */
export class SettingsStore {
  private readonly getQuery;
  private readonly insertQuery;
  private readonly upsertQuery;

  constructor(db: Db) {
    this.getQuery = db.prepare('SELECT value FROM settings WHERE name = ?').pluck();
    this.insertQuery = db.prepare('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING');
    this.upsertQuery = db.prepare(
      'INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    );
  }

  get(name: string): string | undefined {
    return this.getQuery.get(name) as string | undefined;
  }

  set(name: string, value: string): void {
    this.upsertQuery.run(name, value);
  }

  /** Returns the stored value, storing `create()` first if there is none (first writer wins). */
  getOrCreate(name: string, create: () => string): { value: string; created: boolean } {
    const existing = this.get(name);
    if (existing !== undefined) return { value: existing, created: false };
    const created = this.insertQuery.run(name, create()).changes === 1;
    return { value: this.get(name)!, created };
  }
}
