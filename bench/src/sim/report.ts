import { fixed, table } from '../fanout/report.ts';
import { KRAKEN_PUBLISHED, type SimResults } from './results.ts';

const MB = 1e6;

/** What the fluid model does not capture: printed with every report so no figure is read as more than it is. */
export const MODEL_LIMITS = [
  'Links are fluid: capacity is shared max-min fairly each step; no packets, queues, TCP slow start, loss or jitter.',
  'Every node has the same up and down rate; no racks, zones or oversubscribed core: the only bottlenecks are the node, seed and origin links.',
  "Daemons never fail, never serve corrupt or slow pieces, and have unlimited CPU and disk: no reschedules, no blocklists, no hashing cost.",
  "Daemons upload with --upload-rate at their link rate (4 pieces at a time, busy past --upload-queue-time), as Kraken's agents run with bandwidth limits; seeds with the scheduler's default (every upload at once).",
  "A parent's new piece is seen by its children at the end of the step it lands in (watch latency below one step); requests wait their round trip rounded up to a step.",
  'Every node asks for every layer at time 0; the scheduler answers instantly (its CPU time is measured, not simulated).',
  "The daemon is a model of daemon/src/swarm's rules (piece order with its per-daemon tie rank, seed share over the scheduler's list of the seed's children, patience, busy backoff, the reader's next piece from the origin as --origin-fallback says); the scheduler is the real code.",
];

/** report.md: the ratios against S/B first, then the goals, the scheduler's cost, and the model's limits. */
export function renderSimReport(r: SimResults): string {
  const c = r.config;
  const mc = r.machine;
  const layers = c.layerSizes.map((size) => `${fixed(size / MB, 0)} MB`).join(' + ');
  const pieceSizes = [...new Set(r.runs.flatMap((run) => run.pieceLengths))].map((len) => `${fixed(len / 2 ** 20, 0)} MiB`).join(', ');
  const lines = [
    `# Simulation: ${[...new Set(r.runs.map((run) => run.nodes))].join(', ')} nodes pull one image${r.preset ? ` (preset ${r.preset})` : ''}; parent policy ${r.policies.join(' vs ')}`,
    '',
    `S = ${fixed(r.imageBytes / MB, 1)} MB (layers ${layers}; pieces ${pieceSizes}) · B = ${fixed(r.linkBytesPerSecond / MB, 1)} MB/s per node link · ideal S/B = **${fixed(r.idealSeconds, 2)} s** · ${c.seeds} seed(s) at ${fixed(c.seedRate / MB, 1)} MB/s · origin ${fixed(c.originRate / MB, 1)} MB/s · request round trip ${c.latencyMs} ms · parents ${c.parents} · pieces in flight ${c.piecesInFlight} · upload slots ${c.uploadSlots} · step ${c.stepMs} ms · origin fallback ${c.originFallback} · rng seed ${c.rngSeed}`,
    '',
    `Simulated time, on ${mc.cpuModel}, ${mc.cores} cores · node ${mc.node} · commit ${mc.commit} · ${r.date}`,
    '',
    ...(r.allOk ? [] : ['> **Some run did not finish within its simulated-time limit: see Failures.**', '']),
    '## Results (completion ÷ S/B)',
    '',
    table(
      ['policy', 'nodes', 'fastest', 'p50', 'p95', 'p99', 'p99.9', 'slowest', 'slowest s', 'origin egress ÷ S', 'seed egress ÷ S', 'status'],
      r.runs.map((run) => [
        run.policy,
        String(run.nodes),
        ratio(run.ratios.fastest),
        ratio(run.ratios.p50),
        ratio(run.ratios.p95),
        ratio(run.ratios.p99),
        ratio(run.ratios.p999),
        ratio(run.ratios.allDone),
        fixed(run.allDoneSeconds, 2),
        `${fixed(run.originEgressBytes / r.imageBytes, 3)}×`,
        `${fixed(run.seedEgressBytes / r.imageBytes, 2)}×`,
        run.ok ? 'ok' : `**FAILED** (${run.finishedNodes}/${run.nodes} done)`,
      ]),
    ),
    '',
    ...(r.preset === 'kraken'
      ? [`Kraken published, for its 2600-host test: p50 ${KRAKEN_PUBLISHED.p50}×, p99 ${KRAKEN_PUBLISHED.p99}×, p99.9 ${KRAKEN_PUBLISHED.p999}× the per-host-limit time.`, '']
      : []),
    '## Against the goals',
    '',
    table(['measure', 'value', 'goal', 'met'], r.goals.map((g) => [g.measure, `${fixed(g.value, 3)}×`, g.goal, g.met === null ? '' : g.met ? 'yes' : '**no**'])),
    '',
    '## The scheduler\'s cost (real scheduler code, timed on this machine)',
    '',
    table(
      ['policy', 'nodes', 'scheduler calls', 'scheduler ms', 'ms per peer', 'heap per peer', 'simulation wall s', 'simulation CPU s', 'core share', 'steps'],
      r.runs.map((run) => [
        run.policy,
        String(run.nodes),
        String(run.scheduler.calls),
        fixed(run.scheduler.cpuMs, 0),
        fixed(run.scheduler.cpuMsPerPeer, 3),
        `${fixed(run.scheduler.heapBytesPerPeer / 1024, 1)} KiB`,
        fixed(run.wallSeconds, 1),
        fixed(run.cpuSeconds, 1),
        `${fixed((100 * run.cpuSeconds) / run.wallSeconds, 0)} %`,
        String(run.steps),
      ]),
    ),
    '',
    'Scheduler ms = wall time inside the real host registry, task table and parent policy (register, task and report calls) in this single-threaded process. Core share = simulation CPU ÷ wall time: on a busy machine below 100 %, and the scheduler ms overstate its CPU by up to that factor. Heap per peer = heap growth for N hosts each in every task with all pieces and K parents, between forced collections (a second build, after a warm-up).',
    '',
    '![completion CDF](completion-cdf.svg)',
    '',
    ...(new Set(r.runs.map((run) => run.nodes)).size > 1 ? ['![scale sweep](sweep.svg)', ''] : []),
    '![bytes by source](bytes-by-source.svg)',
    '',
    '## What the model leaves out',
    '',
    ...MODEL_LIMITS.map((limit) => `- ${limit}`),
    ...failures(r),
  ];
  return `${lines.join('\n')}\n`;
}

function failures(r: SimResults): string[] {
  const failed = r.runs.filter((run) => !run.ok);
  if (failed.length === 0) return [];
  return ['', '## Failures', '', ...failed.map((run) => `- ${run.policy}, N = ${run.nodes}: ${run.error}; origin sent ${fixed(run.originEgressBytes / r.imageBytes, 1)}× S, the seeds ${fixed(run.seedEgressBytes / r.imageBytes, 1)}× S`)];
}

function ratio(value: number): string {
  return `${fixed(value, 2)}×`;
}
