import type { SyncPostgresClient } from './sync-client.js';

/** The settings table for the admin commands, over their synchronous connection: what db/settings-store.ts does on SQLite. */
export class PostgresAdminSettings {
  constructor(private readonly db: SyncPostgresClient) {}

  get(name: string): string | undefined {
    return this.db.query<{ value: string }>('SELECT value FROM settings WHERE name = $1', [name]).rows[0]?.value;
  }

  set(name: string, value: string): void {
    this.db.query('INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [
      name,
      value,
    ]);
  }

  /** Returns the stored value, storing `create()` first if there is none (first writer wins, on any node). */
  getOrCreate(name: string, create: () => string): { value: string; created: boolean } {
    const existing = this.get(name);
    if (existing !== undefined) return { value: existing, created: false };
    const { rowCount } = this.db.query('INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
      name,
      create(),
    ]);
    return { value: this.get(name)!, created: rowCount === 1 };
  }
}
