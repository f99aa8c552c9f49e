import type pg from 'pg';

/** The statements, shared with the admin commands' synchronous settings (admin-settings.ts). */
export const GET = { name: 'lineup_setting_get', text: 'SELECT value FROM settings WHERE name = $1' };
export const INSERT = {
  name: 'lineup_setting_insert',
  text: 'INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
};
export const UPSERT = {
  name: 'lineup_setting_upsert',
  text: 'INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
};

/** SettingsStore on PostgreSQL: the same name/value pairs, shared by every node. */
export class PostgresSettingsStore {
  constructor(private readonly pool: pg.Pool) {}

  async get(name: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ value: string }>({ ...GET, values: [name] });
    return rows[0]?.value;
  }

  async set(name: string, value: string): Promise<void> {
    await this.pool.query({ ...UPSERT, values: [name, value] });
  }

  /**
   * Returns the stored value, storing `create()` first if there is none. The first writer wins
   * across nodes: the loser's INSERT does nothing (it waits for the winner's commit on the unique
   * name), and both read the winner's value.
   */
  async getOrCreate(name: string, create: () => string): Promise<{ value: string; created: boolean }> {
    const existing = await this.get(name);
    if (existing !== undefined) return { value: existing, created: false };
    const { rowCount } = await this.pool.query({ ...INSERT, values: [name, create()] });
    const value = await this.get(name);
    if (value === undefined) throw new Error(`setting "${name}" was deleted as it was created`);
    return { value, created: rowCount === 1 };
  }
}
