import type { Channel } from '../playlist/lineup.js';

/**
 * A channel's descriptive columns as SQLite returns them: what `channels` shows players and what
 * `channel_imports` remembers of an import (radio is 0 or 1).
 */
export interface ChannelValueColumns {
  name: string;
  number: number | null;
  group_title: string;
  logo: string;
  tvg_id: string;
  catchup_days: number;
  radio: number;
}

/** The same values as the domain names them. */
export type ChannelValues = Pick<Channel, 'name' | 'number' | 'groupTitle' | 'logo' | 'tvgId' | 'catchupDays' | 'radio'>;

export const toColumns = (values: ChannelValues): ChannelValueColumns => ({
  name: values.name,
  number: values.number,
  group_title: values.groupTitle,
  logo: values.logo,
  tvg_id: values.tvgId,
  catchup_days: values.catchupDays,
  radio: values.radio ? 1 : 0,
});

export const fromColumns = (row: ChannelValueColumns): ChannelValues => ({
  name: row.name,
  number: row.number,
  groupTitle: row.group_title,
  logo: row.logo,
  tvgId: row.tvg_id,
  catchupDays: row.catchup_days,
  radio: row.radio === 1,
});
