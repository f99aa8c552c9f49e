import { type RemovedDemo, removeDemoLineup } from '../db/seed.js';
import { type Command, parseOptions, UsageError, withAdminParts } from './command.js';
import { count } from './plural.js';

/** `4 channels (Demo News, …) and the subscriber "demo"`, or undefined when nothing went. */
export function describeRemovedDemo(removed: RemovedDemo): string | undefined {
  const parts = [
    ...(removed.channels.length > 0 ? [`${count(removed.channels.length, 'channel')} (${removed.channels.join(', ')})`] : []),
    ...(removed.subscriber !== undefined ? [`the subscriber "${removed.subscriber}"`] : []),
  ];
  return parts.length === 0 ? undefined : parts.join(' and ');
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'remove the demo lineup and subscriber that the first start seeded',
  help: `lineup demo remove

Removes the demo channels (Demo News, Sport, Movies and Cartoons) and the subscriber "demo" that
the first start of an empty database created, and says what went; the demo URL then answers
410 Gone. Rows the operator has since changed (renamed, renumbered, put in a package, imported
over) are theirs and stay. Running it again finds nothing to remove and exits 0. The first
lineup sql script that changes channels, or the first lineup import, does the same on its own.`,
  run: async (argv, io) => {
    const { positionals } = parseOptions(argv, {});
    const [action, ...extra] = positionals;
    if (action !== 'remove')
      throw new UsageError(action === undefined ? 'demo: say remove' : `demo: unknown action "${action}"; try remove`);
    if (extra.length > 0) throw new UsageError(`demo remove: unexpected argument "${extra[0]}"`);
    return withAdminParts(io, ({ sql }) => {
      const removed = describeRemovedDemo(removeDemoLineup(sql));
      io.stdout(
        removed === undefined ? 'nothing to remove: no demo channels or demo subscriber left\n' : `removed the demo lineup: ${removed}\n`,
      );
      return 0;
    });
  },
};
