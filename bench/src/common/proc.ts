import { readFile, writeFile } from 'node:fs/promises';

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

/** User + system CPU seconds a process (all its threads) has used so far, from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself hold spaces: state is field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unexpected /proc/${pid}/stat: ${stat}`);
  return (utime + stime) / CLOCK_TICKS;
}

/** Resident set size in bytes, from VmRSS in /proc/<pid>/status. */
export function rssBytes(pid: number): Promise<number> {
  return statusBytes(pid, 'VmRSS');
}

/** The kernel's own RSS high-water mark (VmHWM): a peak that sampling cannot miss. */
export function peakRssBytes(pid: number): Promise<number> {
  return statusBytes(pid, 'VmHWM');
}

/** Restarts VmHWM from the current RSS (`5` to clear_refs, Linux 4.0+); false where that is not allowed. */
export async function resetPeakRss(pid: number): Promise<boolean> {
  return writeFile(`/proc/${pid}/clear_refs`, '5').then(
    () => true,
    () => false,
  );
}

async function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1];
  if (kib === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(kib) * 1024;
}

/** CPU seconds each named process used while `work` ran. */
export async function cpuDuring<T>(
  pids: Record<string, number>,
  work: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = await readCpu(pids);
  const result = await work();
  const after = await readCpu(pids);
  const cpu = Object.fromEntries(Object.entries(after).map(([name, seconds]) => [name, seconds - (before[name] ?? 0)]));
  return { result, cpu };
}

async function readCpu(pids: Record<string, number>): Promise<Record<string, number>> {
  const entries = await Promise.all(Object.entries(pids).map(async ([name, pid]) => [name, await cpuSeconds(pid)] as const));
  return Object.fromEntries(entries);
}

export interface RssSummary {
  peakBytes: number;
  firstBytes: number;
  samples: number;
  /** Longest gap between two samples, to show the sampling kept up. */
  maxGapMs: number;
}

/** Samples a process's RSS every `intervalMs` until stop(); stop() rethrows a failed read (the process died). */
export function sampleRss(pid: number, intervalMs: number): { stop(): Promise<RssSummary> } {
  const values: number[] = [];
  let maxGapMs = 0;
  let last = performance.now();
  let stopped = false;
  let failure: unknown;
  const loop = (async () => {
    while (!stopped) {
      values.push(await rssBytes(pid));
      const now = performance.now();
      if (values.length > 1) maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })().catch((err: unknown) => {
    failure = err;
  });
  return {
    async stop() {
      stopped = true;
      await loop;
      if (failure) throw failure;
      if (values.length === 0) throw new Error(`no RSS sample of pid ${pid}`);
      return { peakBytes: Math.max(...values), firstBytes: values[0]!, samples: values.length, maxGapMs };
    },
  };
}

/** Busy and total CPU time of the whole machine (all cores, every process), in clock ticks, from /proc/stat. */
export async function machineCpuTicks(): Promise<{ busy: number; total: number }> {
  const stat = await readFile('/proc/stat', 'utf8');
  const fields = (/^cpu\s+(.+)$/m.exec(stat)?.[1] ?? '').split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already counted in user)
  if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) throw new Error(`unexpected /proc/stat: ${stat.split('\n')[0]}`);
  const total = fields.slice(0, 8).reduce((sum, n) => sum + n, 0);
  const idle = fields[3]! + fields[4]!;
  return { busy: total - idle, total };
}
