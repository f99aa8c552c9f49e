import type { BadInputError } from '../errors.js';
import { normalizeIp } from '../ip.js';
import { parseStreamFormat, type StreamFormat } from '../signing/origin.js';
import { type Command, parseOptions, UsageError, withPlaylists } from './command.js';

export const renderCommand: Command = {
  name: 'render',
  summary: "print a subscriber's playlist as it would be served (debugging)",
  help: `lineup render USER --ip ADDR [--output hls|ts]

Prints USER's playlist exactly as the service would serve it to ADDR now, with live tokens.
A disabled or expired subscriber gets the same reason the HTTP answer gives, and exit 1.
Refuses (exit 1, naming each variable) when it would sign unlike the server last started on the
database: another SECURETOKEN_KEY, ORIGIN_URL, IP_BINDING, TOKEN_TTL or TOKEN_DESYNC. With
SECURETOKEN_KEY unset it signs with the key the server generated; it never makes one.`,
  run: async (argv, io) => {
    const { values, positionals } = parseOptions(argv, { ip: { type: 'string' }, output: { type: 'string' } });
    const [user, extra] = positionals;
    if (!user || extra !== undefined) throw new UsageError('render: name exactly one USER');
    if (values.ip === undefined) throw new UsageError('render: --ip ADDR is required (the address the tokens are bound to)');
    const ip = normalizeIp(values.ip);
    if (ip === undefined) throw new UsageError(`--ip: "${values.ip}" is not an IP address`);
    let format: StreamFormat;
    try {
      format = parseStreamFormat(values.output);
    } catch (error) {
      throw new UsageError(`--output: ${(error as BadInputError).message}`);
    }
    return withPlaylists(io, async (playlists) => {
      io.stdout(await playlists.textFor(user, { ip, format }));
      return 0;
    });
  },
};
