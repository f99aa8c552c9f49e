import type { LineupContext } from '../context.js';
import { stateOf } from '../subscribers/access.js';
import type { PlaylistAddress } from '../subscribers/playlist-ips.js';
import { toSqlTime } from '../time.js';
import type { CliIo } from './command.js';
import { count } from './plural.js';
import { SHARING_WINDOW_SECONDS } from './report.js';
import { formatTable } from './table.js';

/** `lineup subscriber show USER [--json]`: the subscriber, then one block per kind of activity. */
export function showSubscriber(context: LineupContext, username: string, json: boolean, io: CliIo): number {
  const now = context.clock();
  const subscriber = context.subscribers.get(username);
  const since = toSqlTime(now - SHARING_WINDOW_SECONDS);
  // Playlist fetches (recorded in every signing mode): its own block, beside any other kind of activity.
  const playlistAddresses = context.playlistIpStore.addressesOf(username, since);
  if (json) {
    io.stdout(`${JSON.stringify({ ...subscriber, state: stateOf(subscriber, now), since, playlistAddresses }, null, 2)}\n`);
    return 0;
  }
  const packages = subscriber.packages.length > 0 ? subscriber.packages.join(',') : '-';
  io.stdout(
    formatTable([
      ['username', subscriber.username],
      ['state', stateOf(subscriber, now)],
      ['expires (UTC)', subscriber.expiresAt],
      ['packages', packages],
      ['max connections', String(subscriber.maxConnections)],
      ['url', subscriber.hasKey ? 'issued' : 'none (rotate)'],
      ['note', subscriber.note || '-'],
      ['created (UTC)', subscriber.createdAt],
    ]),
  );
  io.stdout(playlistAddressBlock(playlistAddresses, subscriber.maxConnections, since));
  return 0;
}

function playlistAddressBlock(addresses: PlaylistAddress[], maxConnections: number, since: string): string {
  const over = addresses.length > maxConnections ? `, more than its ${maxConnections} max connections` : '';
  const heading = `\nplaylist fetched from ${count(addresses.length, 'address', 'addresses')} since ${since} UTC${over}\n`;
  if (addresses.length === 0) return heading;
  return (
    heading +
    formatTable([
      ['IP', 'FIRST SEEN (UTC)', 'LAST SEEN (UTC)', 'BUCKETS'],
      ...addresses.map((address) => [address.ip, address.firstSeen, address.lastSeen, String(address.buckets)]),
    ])
  );
}
