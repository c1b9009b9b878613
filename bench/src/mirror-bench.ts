/**
 * The mirror benchmark (`npm run bench:mirror -- --size 512MiB --repeat 3 --mem-size 1GiB --out DIR`): blob
 * throughput direct / through docker-registry's pull-through cache / through the Flotilla daemon, manifest HEAD
 * latency, and the daemon's memory and CPU. Prints markdown to stdout (progress to stderr) and writes mirror.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Cleanup } from './common/cleanup.ts';
import { parseBenchArgs, USAGE, UsageError } from './mirror/options.ts';
import { renderMarkdown } from './mirror/report.ts';
import { runMirrorBench } from './mirror/run.ts';

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function main(): Promise<number> {
  let options;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`mirror-bench: ${err.message}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const cleanup = new Cleanup();
  const interrupt = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping everything the benchmark started`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const report = await runMirrorBench(options, cleanup, progress);
    await mkdir(options.outDir, { recursive: true });
    const jsonPath = join(options.outDir, 'mirror.json');
    await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(renderMarkdown(report));
    progress(`wrote ${jsonPath}`);
    if (!report.allOk) progress(`${report.failures.length} requests failed or some returned wrong content: see the report`);
    return report.allOk ? 0 : 1;
  } finally {
    await cleanup.run();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    progress(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
