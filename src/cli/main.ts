import { join } from 'node:path';
import { LineupError } from '../errors.js';
import { LINEUP_HOME } from '../home.js';
import { apiTokenCommand } from './api-token.js';
import { auditCommand } from './audit.js';
import { type CliIo, type Command, UsageError } from './command.js';
import { dbCommand } from './db.js';
import { demoCommand } from './demo.js';
import { DEFAULT_ENV_FILE, environmentWithFile, takeEnvFileOption } from './env-file.js';
import { importCommand } from './import.js';
import { initCommand } from './init.js';
import { lintCommand } from './lint.js';
import { refuseUnlessRunsOnPostgres } from './postgres-commands.js';
import { pruneCommand } from './prune.js';
import { renderCommand } from './render.js';
import { reportCommand } from './report.js';
import { serveCommand } from './serve.js';
import { sessionsCommand } from './sessions.js';
import { sqlCommand } from './sql.js';
import { subscriberCommand } from './subscriber.js';

export const commands: Command[] = [
  serveCommand,
  initCommand,
  sqlCommand,
  importCommand,
  subscriberCommand,
  sessionsCommand,
  pruneCommand,
  renderCommand,
  reportCommand,
  lintCommand,
  demoCommand,
  dbCommand,
  apiTokenCommand,
  auditCommand,
];

function overview(home: string): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    'usage: lineup [--env-file PATH] COMMAND [ARGS…]   (lineup COMMAND --help for details)',
    '',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Every command reads the environment, over the env file: --env-file PATH (any command takes it),',
    `or else ${join(home, DEFAULT_ENV_FILE)} when it exists. The environment wins.`,
    '',
  ].join('\n');
}

/**
 * Runs one command line and returns the exit code. Failures print one line on stderr. The command
 * gets the environment over the env file, the same for the server and every admin command.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    const { argv: args, envFile } = takeEnvFileOption(argv);
    const [name, ...rest] = args;
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.stdout(overview(io.home ?? LINEUP_HOME));
      return name === undefined ? 2 : 0;
    }
    const command = commands.find((candidate) => candidate.name === name);
    if (!command) throw new UsageError(`unknown command "${name}"; try lineup --help`);
    if (command.name !== 'subscriber' && (rest.includes('--help') || rest.includes('-h'))) {
      io.stdout(`${command.help}\n`);
      return 0;
    }
    const { env, file } = environmentWithFile(io.env, envFile, io.home ?? LINEUP_HOME);
    // Help needs no database (subscriber answers its own, per subcommand).
    if (!rest.includes('--help') && !rest.includes('-h')) refuseUnlessRunsOnPostgres(args, env);
    return await command.run(rest, { ...io, env, ...(file ? { envFile: file } : {}) });
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`lineup: ${error.message}\n`);
      return 2;
    }
    if (error instanceof LineupError) {
      io.stderr(`lineup: ${error.message}\n`);
      return 1;
    }
    const code = (error as { code?: string }).code;
    io.stderr(`lineup: ${code ? `${code}: ` : ''}${(error as Error).message}\n`);
    return 1;
  }
}

/** The `lineup` executable (bin/lineup.js). */
export async function main(): Promise<void> {
  const io: CliIo = {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    isTTY: process.stdout.isTTY === true,
  };
  process.exitCode = await runCli(process.argv.slice(2), io);
}
