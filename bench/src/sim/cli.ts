import { loadSimOptions } from './options.ts';
import { renderSimReport } from './report.ts';
import { runSimBench, writeSimOutputs } from './run.ts';

const progress = (line: string) => process.stderr.write(`[sim] ${line}\n`);

export const SIM_SUMMARY =
  'Simulated fan-out: N daemons pull one image through the real scheduler code on a fluid network model, in simulated time (one process, no sockets).';

/**
 * `flotilla bench sim [flags]`: simulates, writes the report files, prints report.md. Exit 0 when every node of
 * every run finished within the simulated-time limit, 1 otherwise; a bad flag throws ConfigError (exit 2).
 */
export async function simCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const options = loadSimOptions(argv, env);
  const results = await runSimBench(options, progress);
  const paths = await writeSimOutputs(results, options.outDir);
  process.stdout.write(renderSimReport(results));
  progress(`wrote ${paths.join(', ')}`);
  return results.allOk ? 0 : 1;
}
