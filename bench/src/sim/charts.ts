/*
 * The sim's charts, drawn with bench fanout's SVG helpers: the completion CDF (one curve per node count) and, for
 * a sweep, completion ÷ S/B and origin egress ÷ S against N on a log axis.
 */
import { bytesBySourceSvg, completionCdfSvg, frame, legendEntry, MARGIN, niceTicks, PLOT_H, PLOT_W, svg, tick } from '../fanout/charts.ts';
import type { SimNodeResult } from './engine.ts';
import type { SimRunResult } from './results.ts';

const RUN_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
/** Bars drawn per run in the bytes-by-source chart: nodes beyond that are sampled evenly by done time. */
const MAX_BARS = 100;

export function simCompletionCdfSvg(runs: SimRunResult[], idealSeconds: number): string {
  const curves = runs
    .filter((run) => run.ok)
    .map((run, i) => ({ mode: `p2p, N = ${run.nodes}`, doneSeconds: run.nodeResults.map((n) => n.doneSeconds), color: RUN_COLORS[i % RUN_COLORS.length]! }));
  return completionCdfSvg(curves, idealSeconds);
}

export function simBytesBySourceSvg(runs: SimRunResult[], imageBytes: number): string {
  return bytesBySourceSvg(
    runs.map((run) => ({ mode: `N = ${run.nodes}`, nodes: sampleByDoneTime(run.nodeResults, MAX_BARS) })),
    imageBytes,
  );
}

/** `count` nodes spread evenly over the done-time order, the slowest always included. */
function sampleByDoneTime(nodes: SimNodeResult[], count: number): SimNodeResult[] {
  const sorted = [...nodes].sort((a, b) => a.doneSeconds - b.doneSeconds);
  if (sorted.length <= count) return sorted;
  return Array.from({ length: count }, (_, k) => sorted[Math.round((k * (sorted.length - 1)) / (count - 1))]!);
}

/** Completion ÷ S/B (p50, p99, p99.9, slowest) and origin and seed egress ÷ S against N, N on a log axis. */
export function sweepSvg(runs: SimRunResult[], imageBytes: number): string {
  const ok = runs.filter((run) => run.ok).sort((a, b) => a.nodes - b.nodes);
  const series: { label: string; color: string; dash?: string; value: (run: SimRunResult) => number }[] = [
    { label: 'p50 ÷ S/B', color: '#2ca02c', value: (r) => r.ratios.p50 },
    { label: 'p99 ÷ S/B', color: '#1f77b4', value: (r) => r.ratios.p99 },
    { label: 'p99.9 ÷ S/B', color: '#9467bd', value: (r) => r.ratios.p999 },
    { label: 'slowest ÷ S/B', color: '#d62728', value: (r) => r.ratios.allDone },
    { label: 'origin egress ÷ S', color: '#7f7f7f', dash: '6 4', value: (r) => r.originEgressBytes / imageBytes },
    { label: 'seed egress ÷ S', color: '#ff7f0e', dash: '6 4', value: (r) => r.seedEgressBytes / imageBytes },
  ];
  const yTicks = niceTicks(Math.max(1, ...ok.flatMap((run) => series.map((s) => s.value(run)))));
  const yMax = yTicks.at(-1)!;
  const decades = logDecades(ok.map((r) => r.nodes));
  const [lo, hi] = [Math.log10(decades[0]!), Math.log10(decades.at(-1)!)];
  const x = (n: number) => MARGIN.left + (hi > lo ? (Math.log10(n) - lo) / (hi - lo) : 0.5) * PLOT_W;
  const y = (v: number) => MARGIN.top + (1 - v / yMax) * PLOT_H;
  const parts = [
    ...frame('Scale sweep: completion and egress against N', 'nodes (log scale)', 'ratio'),
    ...decades.map((n) => tick('x', x(n), String(n))),
    ...yTicks.map((v) => tick('y', y(v), `${v}×`)),
    `<line x1="${MARGIN.left}" y1="${y(1).toFixed(1)}" x2="${MARGIN.left + PLOT_W}" y2="${y(1).toFixed(1)}" stroke="#000" stroke-dasharray="2 3"/>`,
  ];
  series.forEach((s, i) => {
    const points = ok.map((run) => `${x(run.nodes).toFixed(1)},${y(s.value(run)).toFixed(1)}`);
    if (points.length > 1) parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    for (const p of points) parts.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${s.color}"/>`);
    parts.push(legendEntry(MARGIN.left + PLOT_W - 150, MARGIN.top + 16 + i * 16, s.color, s.label));
  });
  return svg(parts);
}

/** Powers of ten covering the node counts (at least two). */
function logDecades(counts: number[]): number[] {
  const lo = 10 ** Math.floor(Math.log10(Math.min(...counts, 10)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...counts, lo * 10)));
  const decades: number[] = [];
  for (let n = lo; n <= hi; n *= 10) decades.push(n);
  return decades;
}
