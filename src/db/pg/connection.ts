import pg from 'pg';

/**
 * Ids are bigint (int8), which pg hands over as strings by default; Lineup's ids and counters
 * stay far below 2^53, so they are numbers, as better-sqlite3 gives them.
 */
const types = new pg.TypeOverrides();
types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));
/** int8[] (an `ARRAY(SELECT id …)`) likewise: int4[]'s parser reads each element as a number. */
type ArrayTypeId = Parameters<typeof pg.types.getTypeParser>[0];
const INT8_ARRAY = 1016 as ArrayTypeId;
const INT4_ARRAY = 1007 as ArrayTypeId;
types.setTypeParser(INT8_ARRAY, pg.types.getTypeParser(INT4_ARRAY));

/** A pool of connections to the database `url` names (libpq's URL form, as `psql` takes it). */
export function openPostgresPool(url: string, { max = 4 }: { max?: number } = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, types });
  // An idle connection that the server closes (a restart, pg_terminate_backend) must not crash
  // the process: the pool drops it and the next query opens another.
  pool.on('error', () => {});
  return pool;
}
