export { runMirrorBench } from './mirror/run.ts';
export { parseBenchArgs, type BenchOptions } from './mirror/options.ts';
export { renderMarkdown, type MirrorReport } from './mirror/report.ts';
export { Cleanup } from './common/cleanup.ts';
