import type { MachineInfo } from '../common/machine.ts';
import { median } from '../common/stats.ts';
import type { FanoutOptions, ModeName } from './options.ts';
import type { ModeRun } from './run-mode.ts';

/** The headline figures of one run, kept for every repetition. */
export interface RunFigures {
  ok: boolean;
  allDoneSeconds: number;
  p50Seconds: number;
  p95Seconds: number;
  originEgressBytes: number;
  machineBusy: number;
}

/** A mode over its repetitions: the figures of its median run (by all-done time), and every run's headline. */
export interface ModeResult extends ModeRun {
  /** Failures of any repetition, in order. */
  errors: string[];
  runs: RunFigures[];
}

/** A figure held against a goal of the issue; `met` is null for context figures without a goal. */
export interface GoalCheck {
  measure: string;
  value: number;
  goal: string;
  met: boolean | null;
}

/** results.json. */
export interface FanoutResults {
  date: string;
  machine: MachineInfo;
  options: Omit<FanoutOptions, 'outDir'>;
  /** S: blob bytes every node must receive. */
  imageBytes: number;
  /** B: bytes per second of every link. */
  linkBytesPerSecond: number;
  /** S/B: the time one node needs on its own link, the floor for everyone. */
  idealSeconds: number;
  modes: Partial<Record<ModeName, ModeResult>>;
  goals: GoalCheck[];
  /** Some run kept the machine's cores > 90 % busy: its times measure the CPU, not the links. */
  cpuSaturated: boolean;
  /** Every run of every mode delivered the image intact to every node in time. */
  allOk: boolean;
}

export function summarizeMode(runs: ModeRun[]): ModeResult {
  const figures = runs.map(headline);
  const good = runs.filter((run) => run.ok);
  // The median run by all-done time (the lower middle for an even count), so its nodes and CPU match its figures.
  const byTime = [...good].sort((a, b) => a.allDoneSeconds - b.allDoneSeconds);
  const chosen = byTime[(byTime.length - 1) >> 1] ?? runs[0]!;
  const errors = runs.flatMap((run) => (run.error === undefined ? [] : [run.error]));
  return {
    ...chosen,
    ok: errors.length === 0,
    allDoneSeconds: median(good.map((r) => r.allDoneSeconds)),
    p50Seconds: median(good.map((r) => r.p50Seconds)),
    p95Seconds: median(good.map((r) => r.p95Seconds)),
    originEgressBytes: median(good.map((r) => r.originEgressBytes)),
    errors,
    runs: figures,
  };
}

function headline(run: ModeRun): RunFigures {
  const { ok, allDoneSeconds, p50Seconds, p95Seconds, originEgressBytes } = run;
  return { ok, allDoneSeconds, p50Seconds, p95Seconds, originEgressBytes, machineBusy: run.cpu?.machineBusy ?? Number.NaN };
}

export function buildResults(input: {
  machine: MachineInfo;
  options: FanoutOptions;
  imageBytes: number;
  modes: Partial<Record<ModeName, ModeRun[]>>;
}): FanoutResults {
  const { outDir: _outDir, ...options } = input.options;
  const idealSeconds = input.imageBytes / options.linkRate;
  const modes: FanoutResults['modes'] = {};
  for (const [mode, runs] of Object.entries(input.modes) as [ModeName, ModeRun[]][]) modes[mode] = summarizeMode(runs);
  const allRuns = Object.values(input.modes).flat();
  return {
    date: new Date().toISOString(),
    machine: input.machine,
    options,
    imageBytes: input.imageBytes,
    linkBytesPerSecond: options.linkRate,
    idealSeconds,
    modes,
    goals: checkGoals(modes, input.imageBytes, idealSeconds),
    cpuSaturated: allRuns.some((run) => run.cpu?.cpuSaturated === true),
    allOk: allRuns.every((run) => run.ok),
  };
}

/** The goals for p2p (10 nodes, 256 MiB, 20 MB/s): all-done ÷ ideal ≤ 1.3, direct ÷ p2p ≥ 7, egress ÷ S ≤ 1.05. */
function checkGoals(modes: FanoutResults['modes'], imageBytes: number, idealSeconds: number): GoalCheck[] {
  const p2p = modes.p2p;
  if (!p2p) return [];
  const checks = [
    goal('p2p all done ÷ ideal (S/B)', p2p.allDoneSeconds / idealSeconds, { atMost: 1.3 }),
    goal('p2p origin egress ÷ S', p2p.originEgressBytes / imageBytes, { atMost: 1.05 }),
  ];
  if (modes.direct) checks.splice(1, 0, goal('direct ÷ p2p all done', modes.direct.allDoneSeconds / p2p.allDoneSeconds, { atLeast: 7 }));
  if (modes.central) checks.push(goal('central ÷ p2p all done', modes.central.allDoneSeconds / p2p.allDoneSeconds));
  return checks;
}

function goal(measure: string, value: number, bound?: { atLeast: number } | { atMost: number }): GoalCheck {
  if (!bound) return { measure, value, goal: '(context)', met: null };
  if ('atLeast' in bound) return { measure, value, goal: `≥ ${bound.atLeast}`, met: value >= bound.atLeast };
  return { measure, value, goal: `≤ ${bound.atMost}`, met: value <= bound.atMost };
}
