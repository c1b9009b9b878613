import type { Cleanup } from '../common/cleanup.ts';
import type { Registry } from '@flotilla/test';
import type { NodeEndpoint } from './client.ts';
import type { BenchImage } from './image.ts';
import type { LinkEmulation } from './links.ts';

/** Where one node's blob bytes came from. In central mode "seed" is the central mirror. */
export interface ByteSources {
  bytesFromOrigin: number;
  bytesFromSeed: number;
  bytesFromPeers: number;
}

/** The processes one mode runs, started and ready, with the means to read what they did. */
export interface Topology {
  /** One per node, in node order. */
  endpoints: NodeEndpoint[];
  /** Server processes by role, whose CPU time is measured (the clients are this process). */
  roles: Record<string, number[]>;
  /** Body bytes the origin has sent so far, counted by the throttle proxy in front of it. */
  originEgressBytes(): Promise<number>;
  /** Where node `index`'s bytes came from, read after its pull finished. */
  sources(index: number): Promise<ByteSources>;
  /** Every server process by name (`daemon-3`), whose output is kept with the results and quoted on failure. */
  services: Record<string, { output(): string }>;
  /** Told the share (0–1) of all the nodes' bytes that has arrived so far, as it grows (a mode may act on it). */
  onDelivered?(share: number): void;
}

/** What every mode is started with; everything it starts goes on `scope`, which the runner stops after the mode. */
export interface TopologyContext {
  scope: Cleanup;
  origin: Registry;
  image: BenchImage;
  nodes: number;
  /** Where every host runs and how its links are emulated. */
  link: LinkEmulation;
  /** p2p: kill the scheduler once this percent of all the nodes' bytes has arrived. */
  killSchedulerAtPercent?: number;
}

/** The pid of a started child process. */
export function pidOf(service: { child: { pid?: number | undefined } }, what: string): number {
  const pid = service.child.pid;
  if (pid === undefined) throw new Error(`${what} has no pid`);
  return pid;
}

/** The last lines a process printed. */
export function outputTail(name: string, service: { output(): string }, lines: number): string {
  return `--- ${name} ---\n${service.output().trimEnd().split('\n').slice(-lines).join('\n')}`;
}
