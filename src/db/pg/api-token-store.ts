import type { ApiToken, ApiTokenStorage } from '../../api-tokens/api-tokens.js';
import { noToken, TOKEN_SQL, type TokenRecord, tokenTaken, toToken } from '../api-token-store.js';
import { numbered } from './placeholders.js';
import type { PostgresError, SyncPostgresClient } from './sync-client.js';

const UNIQUE_VIOLATION = '23505';

/** The api_tokens table on PostgreSQL, over a synchronous connection: db/api-token-store.ts's statements and rows. */
export class PostgresApiTokenStore implements ApiTokenStorage {
  constructor(private readonly db: SyncPostgresClient) {}

  add(name: string, tokenHash: string, readOnly: boolean): ApiToken {
    if (this.db.query(numbered(TOKEN_SQL.byName), [name]).rowCount > 0) throw tokenTaken(name);
    try {
      return toToken(this.db.query<TokenRecord>(numbered(TOKEN_SQL.insert), [name, tokenHash, readOnly ? 1 : 0]).rows[0]!);
    } catch (error) {
      // Another node's token of the same name, between the check and this insert.
      if ((error as PostgresError).code === UNIQUE_VIOLATION && (error as PostgresError).constraint === 'api_tokens_name_key') {
        throw tokenTaken(name);
      }
      throw error;
    }
  }

  list(): ApiToken[] {
    return this.db.query<TokenRecord>(TOKEN_SQL.all(' COLLATE "C"')).rows.map(toToken);
  }

  revoke(name: string): void {
    if (this.db.query(numbered(TOKEN_SQL.deleteByName), [name]).rowCount === 0) throw noToken(name);
  }

  findByHash(tokenHash: string): ApiToken | undefined {
    const [row] = this.db.query<TokenRecord>(numbered(TOKEN_SQL.byHash), [tokenHash]).rows;
    return row && toToken(row);
  }
}
