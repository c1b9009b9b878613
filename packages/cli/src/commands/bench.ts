import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  fanoutCommand,
  fanoutOptions,
  MIRROR_USAGE,
  parseBenchArgs,
  renderMarkdown,
  runMirrorBench,
  SIM_SUMMARY,
  simCommand,
  simOptions,
  UsageError,
  withCleanup,
} from '@flotilla/bench';
import { ConfigError, didYouMean, renderHelp } from '@flotilla/config';
import { ExitCode, type Command } from '../command.ts';

const SUBCOMMANDS = ['fanout', 'mirror', 'sim'];
const FANOUT_SUMMARY = 'N nodes pull one image at once: directly from the origin, through one central pull-through mirror, and over p2p; links emulated.';

/**
 * `flotilla bench fanout|mirror|sim`: benchmarks on real processes on this machine (sim: in simulated time). Not a
 * service: it runs, reports and exits. `--help` lists the fanout flags (the dispatcher renders `options`); mirror's
 * are in its usage text.
 */
export const benchCommand: Command = {
  name: 'bench',
  summary: "Benchmarks: 'bench fanout' (N nodes pull one image: direct, central mirror, p2p), 'bench mirror' (the daemon as a mirror) and 'bench sim' (the scheduler on simulated time, up to 10,000s of nodes).",
  subcommands: SUBCOMMANDS,
  options: fanoutOptions,
  async run(argv, env) {
    const [subcommand, ...rest] = argv;
    if (subcommand === 'fanout' && (rest.includes('--help') || rest.includes('-h'))) {
      process.stdout.write(renderHelp({ usage: 'flotilla bench fanout [options]', summary: FANOUT_SUMMARY, options: fanoutOptions }));
      return ExitCode.ok;
    }
    if (subcommand === 'sim' && (rest.includes('--help') || rest.includes('-h'))) {
      process.stdout.write(renderHelp({ usage: 'flotilla bench sim [options]', summary: SIM_SUMMARY, options: simOptions }));
      return ExitCode.ok;
    }
    if (subcommand === 'fanout') return fanoutCommand(rest, env);
    if (subcommand === 'sim') return simCommand(rest, env);
    if (subcommand === 'mirror') return mirrorCommand(rest);
    const hint = subcommand === undefined ? '' : didYouMean(subcommand, SUBCOMMANDS, (s) => `'${s}'`);
    throw new ConfigError(
      `${subcommand === undefined ? 'missing subcommand' : `unknown subcommand '${subcommand}'${hint}`}: use 'flotilla bench fanout', 'flotilla bench mirror' or 'flotilla bench sim'\n\n${MIRROR_USAGE}`,
    );
  },
};

const progress = (line: string) => process.stderr.write(`[mirror] ${line}\n`);

/** The mirror benchmark (bench/src/mirror) under the CLI: mirror.json in --out, markdown on stdout. */
async function mirrorCommand(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseBenchArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) throw new ConfigError(err.message);
    throw err;
  }
  if (!options) {
    process.stdout.write(`${MIRROR_USAGE}\n`);
    return ExitCode.ok;
  }
  const { outDir } = options;
  return withCleanup(progress, async (cleanup) => {
    const report = await runMirrorBench(options, cleanup, progress);
    await mkdir(outDir, { recursive: true });
    const jsonPath = join(outDir, 'mirror.json');
    await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(renderMarkdown(report));
    progress(`wrote ${jsonPath}`);
    return report.allOk ? ExitCode.ok : ExitCode.failure;
  });
}
