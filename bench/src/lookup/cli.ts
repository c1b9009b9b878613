import { writeOutputFiles } from '../common/output-files.ts';
import { withCleanup } from '../common/with-cleanup.ts';
import { loadLookupOptions } from './options.ts';
import { renderLookupReport } from './report.ts';
import { runLookupBench } from './run.ts';

const progress = (line: string) => process.stderr.write(`[lookup] ${line}\n`);

/** `flotilla bench lookup [flags]`: DHT provider lookup latency on N daemons; writes results.json and report.md. */
export async function lookupCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const options = loadLookupOptions(argv, env);
  return withCleanup(progress, async (cleanup) => {
    const results = await runLookupBench(options, cleanup, progress);
    const report = renderLookupReport(results);
    await writeOutputFiles(options.outDir, { 'results.json': `${JSON.stringify(results, null, 2)}\n`, 'report.md': report });
    process.stdout.write(report);
    progress(`wrote ${options.outDir}/results.json and report.md`);
    return results.misses === 0 ? 0 : 1;
  });
}
