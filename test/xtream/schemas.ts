import { z } from 'zod';

/**
 * The Xtream Codes wire contract, field by field, as the README's XC section and the clients read
 * it: digit strings where XC sends strings, numbers where it sends numbers, never null where a
 * client expects a value. Strict objects: a field nobody asked for is a finding too.
 */
const digits = z.string().regex(/^\d+$/);
const digitsOrEmpty = z.string().regex(/^\d*$/);
const xcTime = z.string().regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);

export const accountSchema = z.strictObject({
  user_info: z.strictObject({
    username: z.string(),
    password: z.string(),
    message: z.string(),
    auth: z.literal(1),
    status: z.enum(['Active', 'Expired', 'Disabled', 'Banned']),
    exp_date: digits,
    is_trial: z.enum(['0', '1']),
    active_cons: digits,
    created_at: digits,
    max_connections: digits,
    allowed_output_formats: z.array(z.enum(['m3u8', 'ts'])).min(1),
  }),
  server_info: z.strictObject({
    url: z
      .string()
      .min(1)
      .regex(/^[^/:]+$/),
    port: digitsOrEmpty,
    https_port: digitsOrEmpty,
    server_protocol: z.enum(['http', 'https']),
    rtmp_port: digitsOrEmpty,
    timezone: z.literal('UTC'),
    timestamp_now: z.number().int().positive(),
    time_now: xcTime,
    process: z.literal(true),
  }),
});

export const categoriesSchema = z.array(
  z.strictObject({
    category_id: digits.refine((id) => Number(id) > 0 && Number(id) < 2 ** 31),
    category_name: z.string().min(1),
    parent_id: z.literal(0),
  }),
);

export const streamsSchema = z.array(
  z.strictObject({
    num: z.number().int(),
    name: z.string().min(1),
    stream_type: z.literal('live'),
    stream_id: z.number().int().positive(),
    stream_icon: z.string(),
    epg_channel_id: z.string().min(1).nullable(),
    added: digits,
    is_adult: z.literal(0),
    category_id: digits,
    category_ids: z.array(z.number().int().positive()).min(1),
    custom_sid: z.literal(''),
    tv_archive: z.union([z.literal(0), z.literal(1)]),
    direct_source: z.literal(''),
    tv_archive_duration: z.number().int().min(0),
    thumbnail: z.literal(''),
  }),
);

const listing = {
  id: digits,
  epg_id: digits,
  title: base64,
  lang: z.string(),
  start: xcTime,
  end: xcTime,
  stop: xcTime,
  description: base64,
  channel_id: z.string().min(1),
  start_timestamp: digits,
  stop_timestamp: digits,
};

export const shortEpgSchema = z.strictObject({ epg_listings: z.array(z.strictObject(listing)) });
export const simpleDataTableSchema = z.strictObject({
  epg_listings: z.array(
    z.strictObject({ ...listing, now_playing: z.union([z.literal(0), z.literal(1)]), has_archive: z.union([z.literal(0), z.literal(1)]) }),
  ),
});
