import { withCleanup } from '../common/with-cleanup.ts';
import { loadFanoutOptions } from './options.ts';
import { renderReport } from './report.ts';
import { runFanoutBench, writeFanoutOutputs } from './run.ts';

const progress = (line: string) => process.stderr.write(`[fanout] ${line}\n`);

/**
 * `flotilla bench fanout [flags]`: runs the modes, writes the report files, prints report.md. Exit 0 when every
 * node of every run got the image intact in time, 1 otherwise; a bad flag throws ConfigError (exit 2).
 */
export async function fanoutCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const options = loadFanoutOptions(argv, env);
  return withCleanup(progress, async (cleanup) => {
    const results = await runFanoutBench(options, cleanup, progress);
    const paths = await writeFanoutOutputs(results, options.outDir);
    process.stdout.write(renderReport(results));
    progress(`wrote ${paths.join(', ')}`);
    if (results.cpuSaturated) progress('CPU saturated in at least one run: these times measure the CPU, not the links (see report.md)');
    return results.allOk ? 0 : 1;
  });
}
