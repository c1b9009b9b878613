import { Cleanup } from './cleanup.ts';

/**
 * Runs a benchmark with one cleanup stack that is always run at the end, and also on SIGINT/SIGTERM (Ctrl-C),
 * after which the process exits with 130: no registry, daemon or temp dir outlives the run.
 */
export async function withCleanup<T>(progress: (line: string) => void, work: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const cleanup = new Cleanup();
  const interrupt = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping everything the benchmark started`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    return await work(cleanup);
  } finally {
    await cleanup.run();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
