import type { LatencyPlan, LatencyRun } from './latency.ts';
import type { MachineInfo } from './machine.ts';
import type { MemoryPlan, MemoryRun } from './memory.ts';
import type { BenchOptions } from './options.ts';
import { median } from './stats.ts';
import type { Mode, ModeRuns } from './throughput.ts';

const MiB = 2 ** 20;

export interface ThroughputSummary {
  mode: Mode;
  medianGBps: number;
  medianSeconds: number;
  runsGBps: number[];
  /** Median CPU seconds per server process (origin, proxy, daemon) over the timed runs. */
  cpuSeconds: Record<string, number>;
  /** Median cores kept busy per process (CPU seconds ÷ wall seconds of the same run). */
  cores: Record<string, number>;
  digestOk: boolean;
}

export interface LatencySummary extends LatencyRun {
  addedP50Ms: number;
}

/** One ratio or figure with the goal it is held against; `met` is null for context figures without a goal. */
export interface GoalCheck {
  measure: string;
  value: number;
  unit: string;
  goal: string;
  met: boolean | null;
}

/** Everything one run measured: written as mirror.json and rendered as markdown. */
export interface MirrorReport {
  date: string;
  machine: MachineInfo;
  options: Omit<BenchOptions, 'outDir'> & LatencyPlan & MemoryPlan;
  throughput: ThroughputSummary[];
  latency: LatencySummary[];
  memory: MemoryRun;
  /** 1/5/15-minute load averages before and after: near or above the core count, other work shared the CPUs. */
  load: { start: number[]; end: number[] };
  goals: GoalCheck[];
  /** Every pull and HEAD got the right content; when false the figures do not count. */
  contentOk: boolean;
}

export interface Measurements {
  machine: MachineInfo;
  options: MirrorReport['options'];
  throughput: ModeRuns[];
  latency: LatencyRun[];
  memory: MemoryRun;
  load: MirrorReport['load'];
}

export function buildReport(m: Measurements): MirrorReport {
  const throughput = m.throughput.map(summarizeMode);
  const direct = m.latency.find((run) => run.target === 'direct');
  if (!direct) throw new Error('no direct HEAD run to compare with');
  const latency = m.latency.map((run) => ({ ...run, addedP50Ms: run.p50Ms - direct.p50Ms }));
  const contentOk =
    throughput.every((t) => t.digestOk) &&
    latency.every((l) => l.wrongAnswers === 0) &&
    m.memory.verifications.length === m.memory.clients &&
    m.memory.verifications.every((v) => v.ok);
  return {
    date: new Date().toISOString(),
    machine: m.machine,
    options: m.options,
    throughput,
    latency,
    memory: m.memory,
    load: m.load,
    goals: checkGoals(throughput, latency, m.memory),
    contentOk,
  };
}

function summarizeMode(runs: ModeRuns): ThroughputSummary {
  const processes = Object.keys(runs.runs[0]?.cpu ?? {});
  const perProcess = (value: (run: ModeRuns['runs'][number], name: string) => number) =>
    Object.fromEntries(processes.map((name) => [name, median(runs.runs.map((run) => value(run, name)))]));
  return {
    mode: runs.mode,
    medianGBps: median(runs.runs.map((r) => r.bytes / r.seconds / 1e9)),
    medianSeconds: median(runs.runs.map((r) => r.seconds)),
    runsGBps: runs.runs.map((r) => r.bytes / r.seconds / 1e9),
    cpuSeconds: perProcess((run, name) => run.cpu[name] ?? 0),
    cores: perProcess((run, name) => (run.cpu[name] ?? 0) / run.seconds),
    digestOk: runs.verifications.length > 0 && runs.verifications.every((v) => v.ok),
  };
}

function checkGoals(throughput: ThroughputSummary[], latency: LatencySummary[], memory: MemoryRun): GoalCheck[] {
  const gbps = (mode: Mode) => throughput.find((t) => t.mode === mode)?.medianGBps ?? Number.NaN;
  const added = (target: string) => latency.find((l) => l.target === target)?.addedP50Ms ?? Number.NaN;
  const peakMiB = memory.peakRssBytes / MiB;
  const atLeast = (value: number, goal: number) => value >= goal;
  const atMost = (value: number, goal: number) => value <= goal;
  const ratio = (a: Mode, b: Mode) => gbps(a) / gbps(b);
  return [
    { measure: 'daemon cold ÷ direct', value: ratio('daemon cold', 'direct'), unit: '×', goal: '≥ 0.9×', met: atLeast(ratio('daemon cold', 'direct'), 0.9) },
    { measure: 'daemon warm ÷ proxy warm', value: ratio('daemon warm', 'proxy warm'), unit: '×', goal: '≥ 1×', met: atLeast(ratio('daemon warm', 'proxy warm'), 1) },
    { measure: 'proxy cold ÷ direct', value: ratio('proxy cold', 'direct'), unit: '×', goal: '(baseline)', met: null },
    { measure: 'HEAD added p50, daemon', value: added('daemon'), unit: 'ms', goal: '≤ 2 ms', met: atMost(added('daemon'), 2) },
    { measure: 'HEAD added p50, proxy', value: added('proxy'), unit: 'ms', goal: '(baseline)', met: null },
    { measure: `daemon peak RSS, ${memory.clients} clients`, value: peakMiB, unit: 'MiB', goal: '≤ 200 MiB', met: atMost(peakMiB, 200) },
  ];
}

/** The report as markdown tables, absolute numbers first, then the ratios against this run's baselines. */
export function renderMarkdown(r: MirrorReport): string {
  const { machine: mc, options: o, memory: mem } = r;
  const lines = [
    `## Mirror benchmark: ${size(o.size)} blob, ${o.repeat} repetitions (medians)`,
    '',
    `${mc.cpuModel}, ${mc.cores} cores, ${mc.memoryGiB} GiB · Linux ${mc.kernel} · node ${mc.node} · ${mc.dockerRegistry} · ${mc.curl} · commit ${mc.commit} · ${r.date}`,
    '',
    `Load average (1/5/15 min): ${r.load.start.map((v) => fixed(v, 2)).join(' / ')} before, ${r.load.end.map((v) => fixed(v, 2)).join(' / ')} after (${mc.cores} cores).`,
    '',
    r.contentOk ? 'All pulls and HEADs returned the right content.' : '**WRONG CONTENT: some pulls or HEADs returned the wrong bytes; the figures do not count.**',
    '',
    `### Blob pull (curl → /dev/null, one process per pull)`,
    '',
    table(
      ['mode', 'median GB/s', 'runs GB/s', 'median s', 'origin CPU s (cores)', 'proxy CPU s (cores)', 'daemon CPU s (cores)', 'sha256'],
      r.throughput.map((t) => [
        t.mode,
        fixed(t.medianGBps, 2),
        t.runsGBps.map((v) => fixed(v, 2)).join(' / '),
        fixed(t.medianSeconds, 3),
        cpu(t, 'origin'),
        cpu(t, 'proxy'),
        cpu(t, 'daemon'),
        t.digestOk ? 'ok' : '**WRONG**',
      ]),
    ),
    '',
    `### Manifest HEAD by tag (${o.count} sequential after ${o.warmup} warm-up, one keep-alive connection)`,
    '',
    table(
      ['target', 'p50 ms', 'p99 ms', 'max ms', 'added p50 ms', 'origin CPU s', 'mirror CPU s', 'new connections', 'wrong answers'],
      r.latency.map((l) => [
        l.target,
        fixed(l.p50Ms, 3),
        fixed(l.p99Ms, 3),
        fixed(l.maxMs, 2),
        l.target === 'direct' ? '—' : fixed(l.addedP50Ms, 3),
        fixed(l.cpu['origin'] ?? 0, 2),
        l.target === 'direct' ? '—' : fixed(l.cpu['daemon'] ?? l.cpu['proxy'] ?? 0, 2),
        String(l.newConnections),
        String(l.wrongAnswers),
      ]),
    ),
    '',
    `### Daemon memory (${mem.clients} curl clients, one ${size(mem.blobBytes)} blob, cold daemon, RSS every ${o.sampleIntervalMs} ms)`,
    '',
    table(
      ['peak RSS MiB', 'VmHWM MiB', 'idle RSS MiB', 'seconds', 'GB/s (all clients)', 'daemon CPU s', 'origin CPU s', 'samples (max gap ms)', 'sha256'],
      [
        [
          fixed(mem.peakRssBytes / MiB, 1),
          `${fixed(mem.kernelPeakRssBytes / MiB, 1)} (since ${mem.kernelPeakSince})`,
          fixed(mem.idleRssBytes / MiB, 1),
          fixed(mem.seconds, 2),
          fixed((mem.clients * mem.blobBytes) / mem.seconds / 1e9, 2),
          fixed(mem.cpu['daemon'] ?? 0, 2),
          fixed(mem.cpu['origin'] ?? 0, 2),
          `${mem.samples} (${fixed(mem.maxSampleGapMs, 0)})`,
          `${mem.verifications.filter((v) => v.ok).length}/${mem.clients} ok`,
        ],
      ],
    ),
    '',
    '### Against the goals (same run)',
    '',
    table(
      ['measure', 'value', 'goal', 'met'],
      r.goals.map((g) => [g.measure, `${fixed(g.value, 2)}${g.unit === '×' ? '×' : ` ${g.unit}`}`, g.goal, g.met === null ? '' : g.met ? 'yes' : '**no**']),
    ),
  ];
  return `${lines.join('\n')}\n`;
}

function table(header: string[], rows: string[][]): string {
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function cpu(t: ThroughputSummary, process: string): string {
  const seconds = t.cpuSeconds[process];
  return seconds === undefined ? '—' : `${fixed(seconds, 2)} (${fixed(t.cores[process] ?? 0, 2)})`;
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function size(bytes: number): string {
  return bytes % 2 ** 30 === 0 ? `${bytes / 2 ** 30} GiB` : `${fixed(bytes / MiB, bytes % MiB === 0 ? 0 : 1)} MiB`;
}
