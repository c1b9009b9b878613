import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@flotilla/config';
import { runChecked, runCommand } from '@flotilla/test';

/**
 * The --link netns network: one bridge in this (root) namespace, every host joined to it by a veth pair. The seed
 * (scheduler or central mirror) and every node have a network namespace of their own; the origin's host is the
 * root namespace itself, through a veth of its own (`fb<pid>o`, the subnet's .1).
 *
 * Links are shaped in the "network", on the bridge side of each veth, never in a sender's own stack: tbf on a
 * port's egress is the host's downlink, and the port's ingress is redirected to an ifb device whose tbf is the
 * host's uplink. (A tbf on the sender's own interface drops packets inside the sender's stack, where TCP — BBR
 * here — misreads them; that run lost a third of some connections' bytes and fell back to the origin.)
 *
 * Names carry this process's pid, so a run killed before its cleanup is recognised (its pid is gone) and removed
 * by the next one.
 */

/**
 * Namespaces are `flotilla-bench-<pid>-<host>`; interfaces (≤ 15 chars) `fb<pid>br` the bridge, `fb<pid>h<k>` host
 * k's bridge port (a veth; k = 0 the origin), `fb<pid>i<k>` its uplink's ifb, `fb<pid>o` the origin's end.
 */
const NAMESPACE_PREFIX = 'flotilla-bench-';
const OWN_NAMESPACE = /^flotilla-bench-(\d+)-/;
const OWN_INTERFACE = /^fb(\d+)(?:br|o|h\d+|i\d+)$/;

/**
 * tc counts whole Ethernet frames: a full TCP segment is 1448 payload bytes (MSS with timestamps) in 1514 frame
 * bytes. Rates are raised by this factor so the TCP payload, what ratelimit's token buckets count, gets B.
 */
const FRAME_BYTES_PER_PAYLOAD_BYTE = 1514 / 1448;
/** tbf's bucket: the larger of this and 5 ms of traffic (GSO sends up to 64 KiB at once on a veth). */
const MIN_BURST_BYTES = 64 * 1024;
/** Longest a packet may queue in tbf before it is dropped: the links' buffer. */
const QUEUE_LATENCY = '100ms';

export interface NetnsOptions {
  nodes: number;
  /** B: payload bytes per second of every link. */
  rate: number;
  /** One-way delay added on every host's uplink (netem). */
  latencyMs?: number;
  /** Percent of packets a host drops as they arrive (nftables). */
  lossPercent?: number;
}

/** How a host's processes are started and where they are reached. */
export interface HostPlacement {
  /** Prepended to each command the host runs: `ip netns exec NS` (which execs: the pid and signals stay the command's). */
  commandPrefix: string[];
  /** The host's address on the bridge; its servers listen here. */
  ip: string;
}

export interface NetnsNetwork {
  /** The origin's host: this namespace, at the bridge's address. */
  origin: HostPlacement;
  seed: HostPlacement;
  nodes: HostPlacement[];
  /** Every namespace it made. */
  namespaces: string[];
  /** Removes every veth, the bridge and every namespace (idempotent; also after a partial setup). */
  remove(): Promise<void>;
}

/**
 * Creates the network; on any failure removes what it made and throws with tc's or ip's message (a ConfigError
 * naming the flag when this machine cannot do what the flags ask).
 */
export async function createNetnsNetwork(options: NetnsOptions): Promise<NetnsNetwork> {
  if (process.getuid?.() !== 0) throw new ConfigError('--link netns needs root (network namespaces, veth pairs, tc)');
  await removeStaleNetworks();
  const pid = process.pid;
  const subnet = await freeSubnet(pid);
  // Host k: 0 the origin (this namespace), 1 the seed, 2… the nodes; address .k+1.
  const names = ['seed', ...Array.from({ length: options.nodes }, (_, i) => `n${i}`)];
  const namespaces = names.map((name) => `${NAMESPACE_PREFIX}${pid}-${name}`);
  const hostCount = namespaces.length + 1;
  const bridge = `fb${pid}br`;
  const port = (k: number) => `fb${pid}h${k}`;
  const ifb = (k: number) => `fb${pid}i${k}`;
  const address = (k: number) => `${subnet}.${k + 1}`;
  const hosts = Array.from({ length: hostCount }, (_, k) => k);
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-netns-'));
  const remove = () => removeNetwork([...hosts.map(port), ...hosts.map(ifb), bridge], namespaces);
  try {
    const shaping = tbf(options.rate);
    await batch(dir, 'ip', [], [
      `link add ${bridge} type bridge`,
      `link set ${bridge} up`,
      `link add ${port(0)} type veth peer name fb${pid}o`,
      `addr add ${address(0)}/24 dev fb${pid}o`,
      `link set fb${pid}o up`,
      ...namespaces.flatMap((ns, i) => [`netns add ${ns}`, `link add ${port(i + 1)} type veth peer name eth0 netns ${ns}`]),
      ...hosts.flatMap((k) => [`link set ${port(k)} master ${bridge}`, `link set ${port(k)} up`, `link add ${ifb(k)} type ifb`, `link set ${ifb(k)} up`]),
    ]);
    await batch(dir, 'tc', [], hosts.flatMap((k) => [
      `qdisc add dev ${port(k)} root ${shaping}`,
      `qdisc add dev ${port(k)} handle ffff: ingress`,
      `filter add dev ${port(k)} parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev ${ifb(k)}`,
      ...uplinkQdiscs(ifb(k), shaping, options.latencyMs),
    ]));
    for (const [i, ns] of namespaces.entries()) {
      await batch(dir, 'ip', ['-n', ns], [`link set lo up`, `addr add ${address(i + 1)}/24 dev eth0`, `link set eth0 up`]);
      if (options.lossPercent) await dropOnArrival(dir, ns, options.lossPercent);
    }
  } catch (err) {
    await remove();
    throw explainMissingNetem(err as Error, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const placement = (i: number): HostPlacement => ({ commandPrefix: ['ip', 'netns', 'exec', namespaces[i]!], ip: address(i + 1) });
  return {
    origin: { commandPrefix: [], ip: address(0) },
    seed: placement(0),
    nodes: names.slice(1).map((_, i) => placement(i + 1)),
    namespaces,
    remove,
  };
}

/** The namespaces of this code (`flotilla-bench-<pid>-…`) that exist now. */
export async function listBenchNamespaces(): Promise<string[]> {
  const listed = await runChecked('ip', ['netns', 'list']);
  return listed.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => OWN_NAMESPACE.test(name));
}

/**
 * Removes bridges, veths and namespaces this code made in runs whose process is gone (killed before cleaning up),
 * and any of this process's pid (a previous process that had the same pid). Returns the namespaces removed.
 */
export async function removeStaleNetworks(): Promise<string[]> {
  const stale = (name: string, pattern: RegExp) => {
    const pid = Number(pattern.exec(name)?.[1]);
    return Number.isInteger(pid) && (pid === process.pid || !isAlive(pid));
  };
  const links = (await runChecked('ip', ['-o', 'link', 'show'])).stdout
    .split('\n')
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? '')
    .filter((name) => OWN_INTERFACE.test(name) && stale(name, OWN_INTERFACE));
  const namespaces = (await listBenchNamespaces()).filter((name) => stale(name, OWN_NAMESPACE));
  await removeNetwork(links, namespaces);
  return namespaces;
}

/**
 * Deletes the interfaces (a veth takes its other end along; deleting a namespace alone would leave the bridge end
 * for a while, as namespaces are torn down asynchronously), then the namespaces; ignores what is already gone.
 */
async function removeNetwork(links: string[], namespaces: string[]): Promise<void> {
  const commands = [...links.map((name) => `link del ${name}`), ...namespaces.map((ns) => `netns del ${ns}`)];
  if (commands.length === 0) return;
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-netns-'));
  try {
    await batch(dir, 'ip', ['-force'], commands, { ignoreErrors: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The tbf settings for payload rate B. */
function tbf(rate: number): string {
  const frameRate = rate * FRAME_BYTES_PER_PAYLOAD_BYTE;
  const burst = Math.max(MIN_BURST_BYTES, Math.ceil(frameRate * 0.005));
  return `tbf rate ${Math.ceil(frameRate * 8)}bit burst ${burst} latency ${QUEUE_LATENCY}`;
}

/** An uplink's ifb: tbf, behind netem's delay when latency is asked for (netem at the root, tbf its child, as tc-netem(8) shows). */
function uplinkQdiscs(device: string, shaping: string, latencyMs: number | undefined): string[] {
  if (!latencyMs) return [`qdisc add dev ${device} root ${shaping}`];
  return [`qdisc add dev ${device} root handle 1: netem delay ${latencyMs}ms limit 100000`, `qdisc add dev ${device} parent 1:1 handle 10: ${shaping}`];
}

/**
 * Loss as packets arrive at a host (its eth0 only, not its loopback): the sender's TCP sees a real loss. Dropping on
 * the way out instead would be a local send error, which TCP handles differently.
 */
async function dropOnArrival(dir: string, ns: string, percent: number): Promise<void> {
  const path = join(dir, `${ns}.nft`);
  await writeFile(path, [
    'table inet flotilla_bench_loss {',
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
    `    iifname "eth0" numgen random mod 1000000 < ${Math.round(percent * 10_000)} drop`,
    '  }',
    '}',
    '',
  ].join('\n'));
  await runChecked('ip', ['netns', 'exec', ns, 'nft', '-f', path]);
}

/** Runs `tool [args] -batch FILE` over the commands (one spawn for many). */
async function batch(dir: string, tool: 'ip' | 'tc', args: string[], commands: string[], options: { ignoreErrors?: boolean } = {}): Promise<void> {
  const path = join(dir, `${tool}-${Math.random().toString(36).slice(2)}.batch`);
  await writeFile(path, `${commands.join('\n')}\n`);
  const result = await runCommand(tool, [...args, '-batch', path]);
  if (result.code !== 0 && !options.ignoreErrors) throw new Error(`${tool} ${args.join(' ')} -batch failed (exit ${result.code}): ${result.stderr.trim()}`);
}

function explainMissingNetem(err: Error, options: NetnsOptions): Error {
  if (options.latencyMs && /qdisc kind is unknown/i.test(err.message)) {
    return new ConfigError(`--latency needs tc's netem qdisc, which this kernel lacks (CONFIG_NET_SCH_NETEM); run without --latency`);
  }
  return err;
}

/** A /24 in 10.0.0.0/8 that no address or route of this namespace overlaps; the pid picks where the search starts. */
async function freeSubnet(pid: number): Promise<string> {
  const used = (await runChecked('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout
    .split('\n')
    .map((line) => /^(?:\S+ )?(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ base: toInt(m[1]!), bits: Number(m[2] ?? 32) }));
  for (let step = 0; step < 50 * 256; step++) {
    const slot = (pid + step) % (50 * 256);
    const candidate = toInt(`10.${200 + Math.floor(slot / 256)}.${slot % 256}.0`);
    if (!used.some((route) => overlaps(candidate, 24, route.base, route.bits))) return fromInt(candidate).split('.').slice(0, 3).join('.');
  }
  throw new Error('no free /24 in 10.200.0.0-10.249.255.0 for the bench network');
}

function overlaps(a: number, aBits: number, b: number, bBits: number): boolean {
  const bits = Math.min(aBits, bBits);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

function toInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => (n * 256 + Number(octet)) >>> 0, 0);
}

function fromInt(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
