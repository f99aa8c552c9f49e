// The thread behind sync-client.ts: it holds the PostgreSQL connections and answers each request
// while the main thread waits for it. Started by synckit from its file under dist/.
import type pg from 'pg';
import { runAsWorker } from 'synckit';
import { openPostgresPool } from './connection.js';
import type { BridgeAnswer, BridgeRequest, WireError } from './sync-client.js';

/** What PostgreSQL said, as plain fields: an Error's own properties do not cross a thread. */
function wireError(error: unknown): WireError {
  const { message, code, detail, constraint, table, column, position } = error as WireError;
  return {
    message: String(message),
    ...(code !== undefined ? { code } : {}),
    ...(detail !== undefined ? { detail } : {}),
    ...(constraint !== undefined ? { constraint } : {}),
    ...(table !== undefined ? { table } : {}),
    ...(column !== undefined ? { column } : {}),
    ...(position !== undefined ? { position } : {}),
  };
}

interface Connection {
  pool: pg.Pool;
  client: pg.PoolClient;
}

const connections = new Map<number, Connection>();
let nextId = 1;

async function answer(request: BridgeRequest): Promise<BridgeAnswer> {
  switch (request.kind) {
    case 'connect': {
      const pool = openPostgresPool(request.url, { max: 1 });
      try {
        const client = await pool.connect();
        // The server closing an idle connection must not end this thread: the next query says so.
        client.on('error', () => {});
        const id = nextId++;
        connections.set(id, { pool, client });
        return { id };
      } catch (error) {
        await pool.end().catch(() => {});
        throw error;
      }
    }
    case 'query': {
      const connection = connections.get(request.id);
      if (!connection) throw new Error('the PostgreSQL connection is closed');
      const result = await connection.client.query({ text: request.text, values: request.values });
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    }
    case 'end': {
      const connection = connections.get(request.id);
      connections.delete(request.id);
      if (connection) {
        connection.client.release();
        await connection.pool.end();
      }
      return {};
    }
  }
}

runAsWorker(async (request: BridgeRequest): Promise<BridgeAnswer> => {
  try {
    return await answer(request);
  } catch (error) {
    return { error: wireError(error) };
  }
});
