import { type Command, parseOptions, UsageError, withAdminParts } from './command.js';

const HELP = `lineup api-token add NAME [--read-only] | list | revoke NAME

add      makes a bearer token for the admin API and prints it alone on the last line, this once:
         only its hash is kept. --read-only: the token may read, and every write is answered 403
list     the tokens' names, whether read-only, and when they were made (never the tokens)
revoke   the token stops working at once

NAME: 1 to 64 letters, digits, ".", "_", "-" or "@"; the audit trail names changes api:NAME.
Send the token as "Authorization: Bearer TOKEN" to /api/v1 on the admin listener (ADMIN_PORT).`;

export const apiTokenCommand: Command = {
  name: 'api-token',
  summary: 'make, list and revoke admin API tokens',
  help: HELP,
  run: async (argv, io) => {
    const { values, positionals } = parseOptions(argv, { 'read-only': { type: 'boolean' } });
    const [action, name, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError(`api-token: unexpected argument "${extra[0]}"`);
    if (action !== 'add' && values['read-only']) throw new UsageError('api-token: --read-only applies only to add');
    switch (action) {
      case 'add':
      case 'revoke':
        if (name === undefined) throw new UsageError(`api-token ${action}: name the token (NAME)`);
        break;
      case 'list':
        if (name !== undefined) throw new UsageError(`api-token list: unexpected argument "${name}"`);
        break;
      default:
        throw new UsageError(
          action === undefined ? 'api-token: add, list or revoke?' : `api-token: unknown action "${action}" (add, list, revoke)`,
        );
    }
    return withAdminParts(io, ({ apiTokens }) => {
      if (action === 'add') {
        const { token, secret } = apiTokens.add(name!, values['read-only'] === true);
        io.stdout(`added API token ${token.name}${token.readOnly ? ' (read-only)' : ''}; it is shown this once:\n${secret}\n`);
      } else if (action === 'revoke') {
        apiTokens.revoke(name!);
        io.stdout(`revoked API token ${name}\n`);
      } else {
        const tokens = apiTokens.list();
        if (tokens.length === 0) io.stdout('no API tokens (lineup api-token add NAME)\n');
        for (const token of tokens)
          io.stdout(`${token.name}  ${token.readOnly ? 'read-only' : 'read-write'}  created ${token.createdAt} UTC\n`);
      }
      return 0;
    });
  },
};
