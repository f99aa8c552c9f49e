import type { ChannelValues } from '../channels/channel-fields.js';

/** One row of `channels`, as the playlist needs it. */
export interface Channel extends ChannelValues {
  id: number;
  stream: string;
  /** Name of a row in `origins`; null for the default origin. */
  origin: string | null;
  /** Packages the channel belongs to; empty means every subscriber sees it. */
  packageIds: number[];
}

/** The package rule: a channel in no package is public; one in packages needs one of them. */
export function isVisible(channel: Channel, subscriberPackageIds: ReadonlySet<number>): boolean {
  return channel.packageIds.length === 0 || channel.packageIds.some((id) => subscriberPackageIds.has(id));
}
