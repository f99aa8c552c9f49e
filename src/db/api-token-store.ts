import type { ApiToken, ApiTokenStorage } from '../api-tokens/api-tokens.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Db } from './open.js';

/** An api_tokens row as both backends select it. */
export interface TokenRecord {
  id: number;
  name: string;
  read_only: number;
  created_at: string;
}

export const toToken = (row: TokenRecord): ApiToken => ({
  id: row.id,
  name: row.name,
  readOnly: row.read_only === 1,
  createdAt: row.created_at,
});

/** The api_tokens statements, with `?` placeholders; PostgreSQL's store adds its collation to ORDER BY. */
export const TOKEN_SQL = {
  insert: 'INSERT INTO api_tokens (name, token_hash, read_only) VALUES (?, ?, ?) RETURNING id, name, read_only, created_at',
  all: (collate = '') => `SELECT id, name, read_only, created_at FROM api_tokens ORDER BY name${collate}`,
  byHash: 'SELECT id, name, read_only, created_at FROM api_tokens WHERE token_hash = ?',
  byName: 'SELECT 1 FROM api_tokens WHERE name = ?',
  deleteByName: 'DELETE FROM api_tokens WHERE name = ?',
};

export const tokenTaken = (name: string) => new ConflictError(`an API token named "${name}" already exists`);
export const noToken = (name: string) => new NotFoundError(`no API token named "${name}"`);

/** The api_tokens table. */
export class ApiTokenStore implements ApiTokenStorage {
  private readonly insert;
  private readonly all;
  private readonly byHash;
  private readonly byName;
  private readonly deleteByName;

  constructor(db: Db) {
    this.insert = db.prepare(TOKEN_SQL.insert);
    this.all = db.prepare(TOKEN_SQL.all());
    this.byHash = db.prepare(TOKEN_SQL.byHash);
    this.byName = db.prepare(TOKEN_SQL.byName).pluck();
    this.deleteByName = db.prepare(TOKEN_SQL.deleteByName);
  }

  add(name: string, tokenHash: string, readOnly: boolean): ApiToken {
    if (this.byName.get(name)) throw tokenTaken(name);
    return toToken(this.insert.get(name, tokenHash, readOnly ? 1 : 0) as TokenRecord);
  }

  list(): ApiToken[] {
    return (this.all.all() as TokenRecord[]).map(toToken);
  }

  revoke(name: string): void {
    if (this.deleteByName.run(name).changes === 0) throw noToken(name);
  }

  findByHash(tokenHash: string): ApiToken | undefined {
    const row = this.byHash.get(tokenHash) as TokenRecord | undefined;
    return row && toToken(row);
  }
}
