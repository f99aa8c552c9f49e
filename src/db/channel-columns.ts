import { CHANNEL_FIELDS, CHANNEL_VALUE_FIELDS, type ChannelValueColumns, type ChannelValues } from '../channels/channel-fields.js';

/** Derived from CHANNEL_FIELDS, so that the stores' SQL lists every value column in the same order. */
const COLUMNS = CHANNEL_VALUE_FIELDS.map((field) => CHANNEL_FIELDS[field].column);

/** `name, number, …`, or `c.name, c.number, …` for a table alias. */
export const valueColumnList = (alias?: string): string => COLUMNS.map((column) => (alias ? `${alias}.${column}` : column)).join(', ');

/** `?, ?, …`: a placeholder per value column, in the order of `toColumnValues` (SQL both backends read). */
export const VALUE_PARAMETERS = COLUMNS.map(() => '?').join(', ');

/** `name = ?, …` for an UPDATE (bound to `toColumnValues`), or `name = excluded.name, …` for an upsert. */
export const valueAssignments = (source: '?' | 'excluded.'): string =>
  COLUMNS.map((column) => `${column} = ${source === '?' ? '?' : `excluded.${column}`}`).join(', ');

/** Each field with its column, and whether it is a boolean stored as 0 or 1, looked up once. */
const MAPPINGS = CHANNEL_VALUE_FIELDS.map((field) => ({
  field,
  column: CHANNEL_FIELDS[field].column,
  flag: CHANNEL_FIELDS[field].kind === 'boolean',
}));

function toColumns(values: ChannelValues): ChannelValueColumns {
  const row: Record<string, unknown> = {};
  for (const { field, column, flag } of MAPPINGS) row[column] = flag ? (values[field] ? 1 : 0) : values[field];
  return row as ChannelValueColumns;
}

/** The value columns of `values`, in the order of `valueColumnList` and `VALUE_PARAMETERS`. */
export function toColumnValues(values: ChannelValues): unknown[] {
  const row = toColumns(values) as unknown as Record<string, unknown>;
  return COLUMNS.map((column) => row[column]);
}

export function fromColumns(row: ChannelValueColumns): ChannelValues {
  const values: Record<string, unknown> = {};
  for (const { field, column, flag } of MAPPINGS) values[field] = flag ? row[column] === 1 : row[column];
  return values as ChannelValues;
}
