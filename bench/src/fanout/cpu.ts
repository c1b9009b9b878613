import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { cpuSeconds, machineCpuTicks } from '../common/proc.ts';

/** Clock ticks per second of /proc times (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

/** Above this share of all cores busy, the run measured the CPU rather than the emulated links. */
export const SATURATED_SHARE = 0.9;

/** CPU use during one timed run. */
export interface CpuUse {
  wallSeconds: number;
  /** Per role (origin, daemons, bench process, ...): CPU seconds of all its processes, and ÷ wall = cores kept busy. */
  roles: Record<string, { cpuSeconds: number; cores: number }>;
  /** Cores the bench's own processes (every role) kept busy together. */
  benchCores: number;
  /** Cores on the machine. */
  machineCores: number;
  /** Share of all cores busy over the run, every process on the machine counted (/proc/stat). */
  machineBusy: number;
  /** machineBusy > 90 %: the figures are CPU-bound, not link-bound. */
  cpuSaturated: boolean;
  /** Share of all cores busy in the second before the pull started (other work on the machine, if high). */
  busyBeforeStart: number;
}

/**
 * Waits (at most `maxMs`) for a second in which less than `share` of the machine's cores were busy, so a mode does
 * not start while its processes are still booting or other work has the CPU; returns the last second's busy share.
 */
export async function waitForQuietMachine(share: number, maxMs: number): Promise<number> {
  const deadline = performance.now() + maxMs;
  let busy = 1;
  while (performance.now() < deadline) {
    const before = await machineCpuTicks();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await machineCpuTicks();
    busy = (after.busy - before.busy) / Math.max(1, after.total - before.total);
    if (busy < share) break;
  }
  return busy;
}

/**
 * Starts measuring; `bench process` is this process (under --client daemon and --link ratelimit, every node's
 * client). `finishedChildrenRole` names the short-lived commands this process runs during the pull (ctr): their CPU
 * time is counted once they have exited and been waited for.
 */
export async function startCpuMeter(
  roles: Record<string, number[]>,
  busyBeforeStart: number,
  finishedChildrenRole?: string,
): Promise<{ stop(): Promise<CpuUse> }> {
  // A process killed during the run (--kill-scheduler-at) counts with its last reading: its CPU after that is lost.
  const lastSeen = new Map<number, number>();
  const read = async () => ({
    at: performance.now(),
    self: process.cpuUsage(),
    children: await finishedChildrenCpuSeconds(),
    machine: await machineCpuTicks(),
    roles: Object.fromEntries(
      await Promise.all(Object.entries(roles).map(async ([role, pids]) => [role, await sumCpuSeconds(pids, lastSeen)] as const)),
    ),
  });
  const before = await read();
  return {
    async stop() {
      const after = await read();
      const wallSeconds = (after.at - before.at) / 1000;
      const use = (cpu: number) => ({ cpuSeconds: cpu, cores: cpu / wallSeconds });
      const selfSeconds = (after.self.user + after.self.system - before.self.user - before.self.system) / 1e6;
      const machineBusy = (after.machine.busy - before.machine.busy) / Math.max(1, after.machine.total - before.machine.total);
      const used = {
        ...Object.fromEntries(Object.keys(roles).map((role) => [role, use((after.roles[role] ?? 0) - (before.roles[role] ?? 0))])),
        'bench process': use(selfSeconds),
        ...(finishedChildrenRole === undefined ? {} : { [finishedChildrenRole]: use(after.children - before.children) }),
      };
      return {
        wallSeconds,
        roles: used,
        benchCores: Object.values(used).reduce((sum, role) => sum + role.cores, 0),
        machineCores: availableParallelism(),
        machineBusy,
        cpuSaturated: machineBusy > SATURATED_SHARE,
        busyBeforeStart,
      };
    },
  };
}

/** cutime + cstime of this process (fields 16 and 17 of /proc/self/stat): CPU of children that exited and were waited for. */
async function finishedChildrenCpuSeconds(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[16 - 3]) + Number(fields[17 - 3])) / CLOCK_TICKS;
}

async function sumCpuSeconds(pids: number[], lastSeen: Map<number, number>): Promise<number> {
  const seconds = await Promise.all(
    pids.map(async (pid) => {
      const now = await cpuSeconds(pid).catch(() => lastSeen.get(pid) ?? 0);
      lastSeen.set(pid, now);
      return now;
    }),
  );
  return seconds.reduce((sum, s) => sum + s, 0);
}
