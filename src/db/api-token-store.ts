import type { ApiToken, ApiTokenStorage } from '../api-tokens/api-tokens.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Db } from './open.js';

interface TokenRecord {
  id: number;
  name: string;
  read_only: number;
  created_at: string;
}

const toToken = (row: TokenRecord): ApiToken => ({ id: row.id, name: row.name, readOnly: row.read_only === 1, createdAt: row.created_at });

/** The api_tokens table. */
export class ApiTokenStore implements ApiTokenStorage {
  private readonly insert;
  private readonly all;
  private readonly byHash;
  private readonly byName;
  private readonly deleteByName;

  constructor(db: Db) {
    this.insert = db.prepare(
      'INSERT INTO api_tokens (name, token_hash, read_only) VALUES (?, ?, ?) RETURNING id, name, read_only, created_at',
    );
    this.all = db.prepare('SELECT id, name, read_only, created_at FROM api_tokens ORDER BY name');
    this.byHash = db.prepare('SELECT id, name, read_only, created_at FROM api_tokens WHERE token_hash = ?');
    this.byName = db.prepare('SELECT 1 FROM api_tokens WHERE name = ?').pluck();
    this.deleteByName = db.prepare('DELETE FROM api_tokens WHERE name = ?');
  }

  add(name: string, tokenHash: string, readOnly: boolean): ApiToken {
    if (this.byName.get(name)) throw new ConflictError(`an API token named "${name}" already exists`);
    return toToken(this.insert.get(name, tokenHash, readOnly ? 1 : 0) as TokenRecord);
  }

  list(): ApiToken[] {
    return (this.all.all() as TokenRecord[]).map(toToken);
  }

  revoke(name: string): void {
    if (this.deleteByName.run(name).changes === 0) throw new NotFoundError(`no API token named "${name}"`);
  }

  findByHash(tokenHash: string): ApiToken | undefined {
    const row = this.byHash.get(tokenHash) as TokenRecord | undefined;
    return row && toToken(row);
  }
}
