import type { Failure } from './failure.ts';
import type { LatencyPlan, LatencyRun } from './latency.ts';
import type { MachineInfo } from '../common/machine.ts';
import type { MemoryPlan, MemoryRun } from './memory.ts';
import { formatSize, type BenchOptions } from './options.ts';
import { median } from '../common/stats.ts';
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
  /** Cold modes: median CPU seconds per process from the pull's start until the mirror had stored the blob. */
  cpuUntilStored: Record<string, number>;
  digestOk: boolean;
  failedPulls: number;
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
  /** Requests that got no answer or an error status, in every phase. */
  failures: Failure[];
  /** Every pull and HEAD completed with the right content; when false, read `failures` before the figures. */
  allOk: boolean;
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
  const failures = [...m.throughput.flatMap((t) => t.failures), ...m.latency.flatMap((l) => l.failures), ...m.memory.failures];
  const allOk =
    failures.length === 0 &&
    throughput.every((t) => t.digestOk) &&
    latency.every((l) => l.wrongAnswers === 0) &&
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
    failures,
    allOk,
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
    cpuUntilStored: Object.fromEntries(
      Object.keys(runs.storedCpu[0] ?? {}).map((name) => [name, median(runs.storedCpu.map((cpu) => cpu[name] ?? 0))]),
    ),
    digestOk: runs.verifications.length > 0 && runs.verifications.every((v) => v.ok),
    failedPulls: runs.failures.length,
  };
}

function checkGoals(throughput: ThroughputSummary[], latency: LatencySummary[], memory: MemoryRun): GoalCheck[] {
  const gbps = (mode: Mode) => throughput.find((t) => t.mode === mode)?.medianGBps ?? Number.NaN;
  const ratio = (a: Mode, b: Mode) => gbps(a) / gbps(b);
  const added = (target: string) => latency.find((l) => l.target === target)?.addedP50Ms ?? Number.NaN;
  return [
    check('relay ÷ direct (ceiling for anything in between)', ratio('relay', 'direct'), '×'),
    check('direct + sha256 ÷ direct (ceiling for a verifying client)', ratio('direct + sha256', 'direct'), '×'),
    check('daemon cold ÷ direct', ratio('daemon cold', 'direct'), '×', { atLeast: 0.9 }),
    check('daemon cold ÷ relay', ratio('daemon cold', 'relay'), '×'),
    check('daemon cold ÷ proxy cold', ratio('daemon cold', 'proxy cold'), '×', { atLeast: 1 }),
    check('daemon warm ÷ proxy warm', ratio('daemon warm', 'proxy warm'), '×', { atLeast: 1 }),
    check('proxy cold ÷ direct', ratio('proxy cold', 'direct'), '×'),
    check('HEAD added p50, daemon', added('daemon'), 'ms', { atMost: 2 }),
    check('HEAD added p50, proxy', added('proxy'), 'ms'),
    check(`daemon peak RSS, ${memory.clients} clients`, memory.peakRssBytes / MiB, 'MiB', { atMost: 200 }),
  ];
}

/** A figure against its bound; without a bound it is context (a baseline's own ratio). */
function check(measure: string, value: number, unit: string, bound?: { atLeast: number } | { atMost: number }): GoalCheck {
  if (!bound) return { measure, value, unit, goal: '(baseline)', met: null };
  const [sign, limit, met] = 'atLeast' in bound ? ['≥', bound.atLeast, value >= bound.atLeast] : ['≤', bound.atMost, value <= bound.atMost];
  return { measure, value, unit, goal: `${sign} ${withUnit(String(limit), unit)}`, met };
}

function withUnit(value: string, unit: string): string {
  return unit === '×' ? `${value}×` : `${value} ${unit}`;
}

/** The report as markdown tables, absolute numbers first, then the ratios against this run's baselines. */
export function renderMarkdown(r: MirrorReport): string {
  const { machine: mc, options: o, memory: mem } = r;
  const directGBps = r.throughput.find((t) => t.mode === 'direct')?.medianGBps ?? Number.NaN;
  const lines = [
    `## Mirror benchmark: ${formatSize(o.size)} blob, ${o.repeat} repetitions (medians)`,
    '',
    `${mc.cpuModel}, ${mc.cores} cores, ${mc.memoryGiB} GiB · Linux ${mc.kernel} · node ${mc.node} · ${mc.dockerRegistry} · ${mc.curl} · commit ${mc.commit} · ${r.date}`,
    '',
    `Load average (1/5/15 min): ${r.load.start.map((v) => fixed(v, 2)).join(' / ')} before, ${r.load.end.map((v) => fixed(v, 2)).join(' / ')} after (${mc.cores} cores).`,
    '',
    r.allOk
      ? 'Every pull and HEAD completed with the right content.'
      : `**Not every request completed with the right content (${r.failures.length} failed; see the sha256 and failure columns and Failures below).**`,
    '',
    `### Blob pull (curl → /dev/null, one process per pull)`,
    '',
    table(
      ['mode', 'median GB/s', '÷ direct', 'runs GB/s', 'median s', 'origin CPU s (cores)', 'relay CPU s (cores)', 'proxy CPU s (cores)', 'daemon CPU s (cores)', 'mirror CPU s until stored', 'sha256', 'failed'],
      r.throughput.map((t) => [
        t.mode,
        fixed(t.medianGBps, 2),
        fixed(t.medianGBps / directGBps, 2),
        t.runsGBps.map((v) => fixed(v, 2)).join(' / '),
        fixed(t.medianSeconds, 3),
        cpu(t, 'origin'),
        cpu(t, 'relay'),
        cpu(t, 'proxy'),
        cpu(t, 'daemon'),
        mirrorCpuUntilStored(t),
        t.digestOk ? 'ok' : '**WRONG**',
        String(t.failedPulls),
      ]),
    ),
    '',
    `### Manifest HEAD by tag (${o.count} sequential after ${o.warmup} warm-up, one keep-alive connection)`,
    '',
    table(
      ['target', 'p50 ms', 'p99 ms', 'max ms', 'added p50 ms', 'origin CPU s', 'mirror CPU s', 'new connections', 'wrong answers', 'failed'],
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
        String(l.failures.length),
      ]),
    ),
    '',
    `### Daemon memory (${mem.clients} curl clients, one ${formatSize(mem.blobBytes)} blob, cold daemon, RSS every ${o.sampleIntervalMs} ms)`,
    '',
    table(
      ['peak RSS MiB', 'VmHWM MiB', 'idle RSS MiB', 'seconds', 'GB/s (all clients)', 'daemon CPU s', 'origin CPU s', 'samples (max gap ms)', 'sha256', 'failed'],
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
          String(mem.failures.length),
        ],
      ],
    ),
    '',
    '### Against the goals (same run)',
    '',
    table(
      ['measure', 'value', 'goal', 'met'],
      r.goals.map((g) => [g.measure, withUnit(fixed(g.value, 2), g.unit), g.goal, g.met === null ? '' : g.met ? 'yes' : '**no**']),
    ),
    ...renderFailures(r.failures),
  ];
  return `${lines.join('\n')}\n`;
}

function renderFailures(failures: Failure[]): string[] {
  if (failures.length === 0) return [];
  const block = (f: Failure) => [...f.error.trim().split('\n'), '--- last lines the server printed ---', ...f.serverOutput.split('\n')];
  return ['', '### Failures', ...failures.flatMap((f) => ['', `- **${f.what}**`, '', '  ```', ...block(f).map((l) => `  ${l}`), '  ```'])];
}

function table(header: string[], rows: string[][]): string {
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function cpu(t: ThroughputSummary, process: string): string {
  const seconds = t.cpuSeconds[process];
  return seconds === undefined ? '—' : `${fixed(seconds, 2)} (${fixed(t.cores[process] ?? 0, 2)})`;
}

function mirrorCpuUntilStored(t: ThroughputSummary): string {
  const seconds = t.cpuUntilStored['daemon'] ?? t.cpuUntilStored['proxy'];
  return seconds === undefined ? '—' : fixed(seconds, 2);
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}
