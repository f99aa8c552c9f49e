import { GET, INSERT, UPSERT } from './settings-store.js';
import type { SyncPostgresClient } from './sync-client.js';

/** PostgresSettingsStore's statements for the admin commands, over their synchronous connection. */
export class PostgresAdminSettings {
  constructor(private readonly db: SyncPostgresClient) {}

  get(name: string): string | undefined {
    return this.db.query<{ value: string }>(GET.text, [name]).rows[0]?.value;
  }

  set(name: string, value: string): void {
    this.db.query(UPSERT.text, [name, value]);
  }

  /** Returns the stored value, storing `create()` first if there is none (first writer wins, on any node). */
  getOrCreate(name: string, create: () => string): { value: string; created: boolean } {
    const existing = this.get(name);
    if (existing !== undefined) return { value: existing, created: false };
    const { rowCount } = this.db.query(INSERT.text, [name, create()]);
    return { value: this.get(name)!, created: rowCount === 1 };
  }
}
