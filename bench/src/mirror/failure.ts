import type { PullTarget } from './setup.ts';

/** A request that did not complete (refused, reset, non-2xx), with what the server in front printed last. */
export interface Failure {
  what: string;
  error: string;
  serverOutput: string;
}

/**
 * Runs one measured request; a failure is recorded instead of ending the benchmark, so a mirror that drops one
 * pull out of many still gets the rest of its table, and the report shows what went wrong.
 */
export async function attempt<T>(
  what: string,
  target: PullTarget,
  failures: Failure[],
  work: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await work();
  } catch (err) {
    failures.push({ what, error: err instanceof Error ? err.message : String(err), serverOutput: target.outputTail() });
    return undefined;
  }
}
