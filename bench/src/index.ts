export { runMirrorBench } from './mirror/run.ts';
export { parseBenchArgs, type BenchOptions } from './mirror/options.ts';
export { renderMarkdown, type MirrorReport } from './mirror/report.ts';
export { Cleanup } from './common/cleanup.ts';
export { USAGE as MIRROR_USAGE, UsageError } from './mirror/options.ts';
export { withCleanup } from './common/with-cleanup.ts';
export { fanoutCommand } from './fanout/cli.ts';
export { fanoutOptions, loadFanoutOptions, type FanoutOptions } from './fanout/options.ts';
