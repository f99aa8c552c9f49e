import type { ChannelValueColumns } from '../channels/channel-fields.js';
import type { Channel } from '../playlist/lineup.js';
import type { HashSubject, IpBinding, LinkMode, OriginRow, SigningScheme } from '../signing/origin.js';
import { fromColumns } from './channel-columns.js';

/** A channel's columns as both backends select them (package ids aside: each aggregates its own way). */
export interface ChannelColumns extends ChannelValueColumns {
  id: number;
  stream: string;
  origin: string | null;
}

export interface OriginRecord {
  name: string;
  base_url: string;
  scheme: SigningScheme;
  secret: string;
  ip_binding: IpBinding;
  hash_subject: HashSubject;
  token_ttl: number | null;
  token_desync: number | null;
  link_mode: LinkMode | null;
  previous_secret: string | null;
}

/** What an OriginRow is read from, in OriginRecord's order. */
export const ORIGIN_COLUMNS =
  'name, base_url, scheme, secret, ip_binding, hash_subject, token_ttl, token_desync, link_mode, previous_secret';

export function channelOf(row: ChannelColumns, packageIds: number[]): Channel {
  return { id: row.id, stream: row.stream, ...fromColumns(row), origin: row.origin, packageIds };
}

export function originOf(row: OriginRecord): OriginRow {
  return {
    name: row.name,
    baseUrl: row.base_url.replace(/\/+$/, ''),
    scheme: row.scheme,
    secret: row.secret,
    ipBinding: row.ip_binding,
    hashSubject: row.hash_subject,
    tokenTtl: row.token_ttl,
    tokenDesync: row.token_desync,
    linkMode: row.link_mode,
    ...(row.previous_secret === null ? {} : { previousSecret: row.previous_secret }),
  };
}
