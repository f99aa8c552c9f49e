import { LineupError } from '../errors.js';
import { type CliIo, type Command, UsageError } from './command.js';
import { demoCommand } from './demo.js';
import { importCommand } from './import.js';
import { lintCommand } from './lint.js';
import { pruneCommand } from './prune.js';
import { renderCommand } from './render.js';
import { serveCommand } from './serve.js';
import { sqlCommand } from './sql.js';
import { subscriberCommand } from './subscriber.js';

export const commands: Command[] = [
  serveCommand,
  sqlCommand,
  importCommand,
  subscriberCommand,
  pruneCommand,
  renderCommand,
  lintCommand,
  demoCommand,
];

function overview(): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    'usage: lineup COMMAND [ARGS…]   (lineup COMMAND --help for details)',
    '',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
  ].join('\n');
}

/** Runs one command line and returns the exit code. Failures print one line on stderr. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(overview());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  try {
    if (!command) throw new UsageError(`unknown command "${name}"; try lineup --help`);
    if (command.name !== 'subscriber' && (rest.includes('--help') || rest.includes('-h'))) {
      io.stdout(`${command.help}\n`);
      return 0;
    }
    return await command.run(rest, io);
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
