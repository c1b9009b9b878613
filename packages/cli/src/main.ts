#!/usr/bin/env -S node --max-semi-space-size=4 --initial-old-space-size=64
// A small young generation (4 MiB semi-spaces) makes V8 scavenge the network chunks of blob transfers soon after
// they are sent: with the default, 3 clients pulling 1 GiB peaked at ~225 MiB RSS, with this at ~195 MiB.
// A 64 MiB old generation from the start: V8 counts the buffers allocated since the last full GC against the
// old-space limit, and a daemon moving pieces allocates ~2 MB of buffers per MB (socket reads, Noise output), so
// with ~20 MB live and a ~30 MB limit it ran a major GC every 5-12 MB of traffic (a quarter of its CPU). With this,
// 30-35 % less CPU per MB in the piece-cpu bench and fan-out, for ~26 MiB more RSS.
import { ConfigError, didYouMean, renderHelp } from '@flotilla/config';
import packageJson from '../package.json' with { type: 'json' };
import { ExitCode } from './command.ts';
import { commandLoaders, loadAllCommands } from './commands/index.ts';

async function usage(): Promise<string> {
  const commands = await loadAllCommands();
  return `Usage: flotilla <command> [options]

Peer-to-peer container image distribution for clusters.

Commands:
${commands.map((c) => `  ${c.name.padEnd(12)}${c.summary}`).join('\n')}

Run 'flotilla <command> --help' for the options of a command; 'flotilla --version' prints the version.
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--help' || name === '-h') return print(process.stdout, await usage(), ExitCode.ok);
  if (name === '--version') return print(process.stdout, `flotilla ${packageJson.version}\n`, ExitCode.ok);
  if (name === undefined) return print(process.stderr, await usage(), ExitCode.usage);
  const load = commandLoaders.get(name);
  if (!load) {
    const hint = didYouMean(name, [...commandLoaders.keys()], (n) => `'${n}'`);
    return print(process.stderr, `flotilla: unknown command '${name}'${hint}\nRun 'flotilla --help' for the commands.\n`, ExitCode.usage);
  }
  const command = await load();
  const forSubcommand = args[0] !== undefined && (command.subcommands ?? []).includes(args[0]);
  if (!forSubcommand && (args.includes('--help') || args.includes('-h'))) {
    const help = renderHelp({ usage: `flotilla ${command.name} [options]`, summary: command.summary, options: command.options });
    return print(process.stdout, help, ExitCode.ok);
  }
  try {
    return await command.run(args, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return print(process.stderr, `flotilla ${command.name}: ${err.message}\nRun 'flotilla ${command.name} --help' for the options.\n`, ExitCode.usage);
  }
}

function print(stream: NodeJS.WriteStream, text: string, exitCode: number): number {
  stream.write(text);
  return exitCode;
}

process.exitCode = await main(process.argv.slice(2));
