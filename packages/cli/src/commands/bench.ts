import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  fanoutCommand,
  fanoutOptions,
  lookupCommand,
  lookupOptions,
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
import { ConfigError, didYouMean, renderHelp, type OptionSchema } from '@flotilla/config';
import { ExitCode, type Command } from '../command.ts';

const FANOUT_SUMMARY = 'N nodes pull one image at once: directly from the origin, through one central pull-through mirror, and over p2p; links emulated.';
const LOOKUP_SUMMARY = 'DHT provider lookup latency on N daemons without a scheduler: until the first provider, p50/p90/p99.';

/** The subcommands that take typed options (their --help is rendered from them); mirror parses its own. */
const TYPED: Record<string, { summary: string; options: OptionSchema; run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> }> = {
  fanout: { summary: FANOUT_SUMMARY, options: fanoutOptions, run: fanoutCommand },
  sim: { summary: SIM_SUMMARY, options: simOptions, run: simCommand },
  lookup: { summary: LOOKUP_SUMMARY, options: lookupOptions, run: lookupCommand },
};
const SUBCOMMANDS = [...Object.keys(TYPED), 'mirror'];

/**
 * `flotilla bench fanout|mirror|sim|lookup`: benchmarks on real processes on this machine (sim: in simulated
 * time). Not a service: it runs, reports and exits. `--help` lists the fanout flags (the dispatcher renders
 * `options`); each subcommand's --help its own.
 */
export const benchCommand: Command = {
  name: 'bench',
  summary:
    "Benchmarks: 'bench fanout' (N nodes pull one image: direct, central mirror, p2p), 'bench mirror' (the daemon as a mirror), 'bench sim' (the scheduler on simulated time, up to 10,000s of nodes) and 'bench lookup' (DHT provider lookups).",
  subcommands: SUBCOMMANDS,
  options: fanoutOptions,
  async run(argv, env) {
    const [subcommand, ...rest] = argv;
    const typed = subcommand === undefined ? undefined : TYPED[subcommand];
    if (typed && (rest.includes('--help') || rest.includes('-h'))) {
      process.stdout.write(renderHelp({ usage: `flotilla bench ${subcommand} [options]`, summary: typed.summary, options: typed.options }));
      return ExitCode.ok;
    }
    if (typed) return typed.run(rest, env);
    if (subcommand === 'mirror') return mirrorCommand(rest);
    const hint = subcommand === undefined ? '' : didYouMean(subcommand, SUBCOMMANDS, (s) => `'${s}'`);
    throw new ConfigError(
      `${subcommand === undefined ? 'missing subcommand' : `unknown subcommand '${subcommand}'${hint}`}: use ${SUBCOMMANDS.map((s) => `'flotilla bench ${s}'`).join(', ')}\n\n${MIRROR_USAGE}`,
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
