/**
 * The values a channel shows players, each declared once: its name in the domain, its column in
 * `channels` (and in `channel_imports`, which remembers what an import last wrote), and how it is
 * stored. The channel's type, the row mappers, the SQL column lists and the import's comparison
 * are all derived from this table, so adding a value means a migration, one line here, and
 * whatever renders it.
 *
 * The channel's identity and placement (id, stream, origin, enabled, packages) are not values: an
 * import matches on them rather than copying them, so they stay out of this table.
 */
export const CHANNEL_FIELDS = {
  name: { column: 'name', kind: 'text' },
  /** Position in the player's list (`tvg-chno`); NULL sorts last. */
  number: { column: 'number', kind: 'integerOrNull' },
  groupTitle: { column: 'group_title', kind: 'text' },
  logo: { column: 'logo', kind: 'text' },
  /** Matches the channel to its guide in the EPG. */
  tvgId: { column: 'tvg_id', kind: 'text' },
  /** Days of archive that players may request; 0 means none. */
  catchupDays: { column: 'catchup_days', kind: 'integer' },
  radio: { column: 'radio', kind: 'boolean' },
} as const satisfies Record<string, { column: string; kind: FieldKind }>;

/** A value's type in the domain, by kind. */
interface DomainTypes {
  text: string;
  integer: number;
  integerOrNull: number | null;
  boolean: boolean;
}

/** A value's type as SQLite returns it, by kind: STRICT tables have no boolean, so 0 or 1. */
interface ColumnTypes {
  text: string;
  integer: number;
  integerOrNull: number | null;
  boolean: number;
}

type FieldKind = keyof DomainTypes;
type Fields = typeof CHANNEL_FIELDS;
export type ChannelField = keyof Fields;

/** A channel's values as the domain names them. */
export type ChannelValues = { [F in ChannelField]: DomainTypes[Fields[F]['kind']] };

/** The same values as SQLite returns them, keyed by column. */
export type ChannelValueColumns = { [F in ChannelField as Fields[F]['column']]: ColumnTypes[Fields[F]['kind']] };

/** Every value field, in the table's order (which is also the SQL column order). */
export const CHANNEL_VALUE_FIELDS = Object.keys(CHANNEL_FIELDS) as ChannelField[];
