import { hash, randomBytes } from 'node:crypto';
import { BadInputError } from '../errors.js';

/** A bearer token of the admin API, as listed: never its secret. */
export interface ApiToken {
  id: number;
  name: string;
  /** Reads only: every write is answered 403. */
  readOnly: boolean;
  createdAt: string;
}

/** What the tokens need from storage; db/api-token-store.ts implements it. */
export interface ApiTokenStorage {
  /** @throws ConflictError for a name already taken. */
  add(name: string, tokenHash: string, readOnly: boolean): ApiToken;
  list(): ApiToken[];
  /** @throws NotFoundError naming the token. */
  revoke(name: string): void;
  findByHash(tokenHash: string): ApiToken | undefined;
}

const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
/** `lineup_` then 32 random bytes, base64url: 256 bits, and a prefix that secret scanners can spot. */
const PREFIX = 'lineup_';
const TOKEN = /^lineup_[A-Za-z0-9_-]{43}$/;

/**
 * The stored form of a token. 256 random bits leave nothing to brute-force, so a fast hash is
 * enough, and a presented token is looked up by its hash on a UNIQUE index, never compared.
 */
function hashToken(token: string): string {
  return hash('sha256', token);
}

/** Admin API tokens: made (shown once), listed, revoked, and recognised. */
export class ApiTokens {
  constructor(private readonly store: ApiTokenStorage) {}

  /** @throws BadInputError for a name outside the rule; ConflictError for a taken one. */
  add(name: string, readOnly: boolean): { token: ApiToken; secret: string } {
    if (!NAME.test(name))
      throw new BadInputError(`NAME: "${name}" is not a valid token name (1 to 64 letters, digits, ".", "_", "-" or "@")`);
    const secret = PREFIX + randomBytes(32).toString('base64url');
    return { token: this.store.add(name, hashToken(secret), readOnly), secret };
  }

  list(): ApiToken[] {
    return this.store.list();
  }

  revoke(name: string): void {
    this.store.revoke(name);
  }

  /** The token behind a presented secret, or undefined for anything else. */
  authenticate(presented: string): ApiToken | undefined {
    if (!TOKEN.test(presented)) return undefined;
    return this.store.findByHash(hashToken(presented));
  }
}
