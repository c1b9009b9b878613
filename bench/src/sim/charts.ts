/*
 * The sim's charts, drawn with bench fanout's SVG helpers: the completion CDF (one curve per node count) and, for
 * a sweep, completion ÷ S/B and origin egress ÷ S against N on a log axis.
 */
import { bytesBySourceSvg, completionCdfSvg, escapeXml, frame, legendEntry, MARGIN, niceTicks, PLOT_H, PLOT_W, svg, tick } from '../fanout/charts.ts';
import type { SimNodeResult } from './engine.ts';
import type { SimRunResult } from './results.ts';

const RUN_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
/** Bars drawn per run in the bytes-by-source chart: nodes beyond that are sampled evenly by done time. */
const MAX_BARS = 100;

export function simCompletionCdfSvg(runs: SimRunResult[], idealSeconds: number): string {
  const curves = runs
    .filter((run) => run.ok)
    .map((run, i) => ({ mode: `${run.policy} ${run.nodes}`, doneSeconds: run.nodeResults.map((n) => n.doneSeconds), color: RUN_COLORS[i % RUN_COLORS.length]! }));
  return completionCdfSvg(curves, idealSeconds);
}

export function simBytesBySourceSvg(runs: SimRunResult[], imageBytes: number): string {
  return bytesBySourceSvg(
    runs.map((run) => ({ mode: `${run.policy}, N = ${run.nodes}${run.ok ? '' : ' (unfinished)'}`, nodes: sampleByDoneTime(run.nodeResults, MAX_BARS) })),
    imageBytes,
  );
}

/** `count` nodes spread evenly over the done-time order, the slowest always included. */
function sampleByDoneTime(nodes: SimNodeResult[], count: number): SimNodeResult[] {
  // Unfinished nodes (NaN) last.
  const sorted = [...nodes].sort((a, b) => (Number.isNaN(a.doneSeconds) ? 1 : 0) - (Number.isNaN(b.doneSeconds) ? 1 : 0) || a.doneSeconds - b.doneSeconds);
  if (sorted.length <= count) return sorted;
  return Array.from({ length: count }, (_, k) => sorted[Math.round((k * (sorted.length - 1)) / (count - 1))]!);
}

/**
 * Completion ÷ S/B (p50, p99, slowest) and origin and seed egress ÷ S against N, N on a log axis; one line style
 * per policy (solid, dashed, dotted). Runs that did not finish have no completion points.
 */
export function sweepSvg(runs: SimRunResult[], imageBytes: number): string {
  const policies = [...new Set(runs.map((run) => run.policy))];
  const metrics: { label: string; color: string; value: (run: SimRunResult) => number }[] = [
    { label: 'p50 ÷ S/B', color: '#2ca02c', value: (r) => r.ratios.p50 },
    { label: 'p99 ÷ S/B', color: '#1f77b4', value: (r) => r.ratios.p99 },
    { label: 'slowest ÷ S/B', color: '#d62728', value: (r) => r.ratios.allDone },
    { label: 'origin egress ÷ S', color: '#7f7f7f', value: (r) => r.originEgressBytes / imageBytes },
    { label: 'seed egress ÷ S', color: '#ff7f0e', value: (r) => r.seedEgressBytes / imageBytes },
  ];
  const dashes = ['', '6 4', '2 3'];
  const values = runs.flatMap((run) => metrics.map((m) => m.value(run))).filter(Number.isFinite);
  const yTicks = niceTicks(Math.max(1, ...values));
  const yMax = yTicks.at(-1)!;
  const decades = logDecades(runs.map((r) => r.nodes));
  const [lo, hi] = [Math.log10(decades[0]!), Math.log10(decades.at(-1)!)];
  const x = (n: number) => MARGIN.left + (hi > lo ? (Math.log10(n) - lo) / (hi - lo) : 0.5) * PLOT_W;
  const y = (v: number) => MARGIN.top + (1 - v / yMax) * PLOT_H;
  const parts = [
    ...frame('Scale sweep: completion and egress against N', 'nodes (log scale)', 'ratio'),
    ...decades.map((n) => tick('x', x(n), String(n))),
    ...yTicks.map((v) => tick('y', y(v), `${v}×`)),
  ];
  policies.forEach((policy, p) => {
    const ofPolicy = runs.filter((run) => run.policy === policy).sort((a, b) => a.nodes - b.nodes);
    const dash = dashes[p % dashes.length]!;
    for (const m of metrics) {
      const points = ofPolicy.filter((run) => Number.isFinite(m.value(run))).map((run) => [x(run.nodes), y(m.value(run))] as const);
      const line = points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ');
      if (points.length > 1) parts.push(`<polyline points="${line}" fill="none" stroke="${m.color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
      for (const [px, py] of points) parts.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="3" fill="${m.color}"/>`);
    }
  });
  metrics.forEach((m, i) => parts.push(legendEntry(MARGIN.left + PLOT_W - 150, MARGIN.top + 16 + i * 16, m.color, m.label)));
  policies.forEach((policy, p) =>
    parts.push(
      `<line x1="${MARGIN.left + 10}" y1="${MARGIN.top + 12 + p * 16}" x2="${MARGIN.left + 40}" y2="${MARGIN.top + 12 + p * 16}" stroke="#000" stroke-width="2"${dashes[p % dashes.length] ? ` stroke-dasharray="${dashes[p % dashes.length]}"` : ''}/>`,
      `<text x="${MARGIN.left + 46}" y="${MARGIN.top + 16 + p * 16}" font-family="sans-serif" font-size="12">${escapeXml(policy)}</text>`,
    ),
  );
  return svg(parts);
}

/** Powers of ten covering the node counts (at least two). */
function logDecades(counts: number[]): number[] {
  const lo = 10 ** Math.floor(Math.log10(Math.min(...counts)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...counts, lo * 10)));
  const decades: number[] = [];
  for (let n = lo; n <= hi; n *= 10) decades.push(n);
  return decades;
}
