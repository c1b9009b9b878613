import { SATURATED_SHARE } from './cpu.ts';
import type { FanoutOptions, ModeName } from './options.ts';
import type { FanoutResults, ModeResult } from './results.ts';

const MB = 1e6;

/** report.md: the ratios first, then CPU use, the machine, every node, and what failed. */
export function renderReport(r: FanoutResults): string {
  const { machine: mc, options: o } = r;
  const modes = Object.entries(r.modes) as [ModeName, ModeResult][];
  const direct = r.modes.direct;
  const layers = o.layerSizes.map((size) => `${fixed(size / 2 ** 20, 0)} MiB`).join(' + ');
  const lines = [
    `# Fan-out: ${o.nodes} nodes pull one image, every link ${fixed(o.linkRate / MB, 1)} MB/s`,
    '',
    `S = ${fixed(r.imageBytes / MB, 1)} MB (layers ${layers}, plus config) · B = ${fixed(r.linkBytesPerSecond / MB, 1)} MB/s per link, the origin's and the seed's included · ideal S/B = **${fixed(r.idealSeconds, 2)} s** · ${o.repeat} run(s) per mode${o.repeat > 1 ? ', medians' : ''}`,
    '',
    `**Client:** ${CLIENT_TEXT[o.client]} · **Links:** ${linkText(o)}`,
    '',
    ...(o.killSchedulerAtPercent === undefined
      ? []
      : [`**Scheduler killed** (SIGKILL, the seed with it) in p2p once ${o.killSchedulerAtPercent} % of all the nodes' bytes had arrived; the daemons carried on through their DHT.`, '']),
    `${mc.cpuModel}, ${mc.cores} cores, ${mc.memoryGiB} GiB · Linux ${mc.kernel} · node ${mc.node} · ${mc.dockerRegistry} · commit ${mc.commit} · ${r.date}`,
    '',
    ...(r.cpuSaturated
      ? [
          `> **Warning: CPU saturated.** A run kept more than ${SATURATED_SHARE * 100} % of the ${mc.cores} cores busy, so its times measure the CPU, not the emulated links. Lower --link-rate (or --nodes) and compare.`,
          '',
        ]
      : []),
    ...(r.allOk ? [] : ['> **Not every run delivered the image intact to every node in time: see Failures.**', '']),
    '## Results',
    '',
    table(
      ['mode', 'all done s', 'all done ÷ S/B', 'p50 s', 'p95 s', 'direct ÷ mode', 'origin egress ÷ S', 'machine CPU busy', 'status'],
      modes.map(([mode, m]) => [
        mode,
        fixed(m.allDoneSeconds, 2),
        `${fixed(m.allDoneSeconds / r.idealSeconds, 2)}×`,
        fixed(m.p50Seconds, 2),
        fixed(m.p95Seconds, 2),
        direct ? `${fixed(direct.allDoneSeconds / m.allDoneSeconds, 2)}×` : '—',
        `${fixed(m.originEgressBytes / r.imageBytes, 3)}×`,
        m.cpu ? `${fixed(m.cpu.machineBusy * 100, 0)} %${m.cpu.cpuSaturated ? ' **saturated**' : ''}` : '—',
        m.ok ? 'ok' : '**FAILED**',
      ]),
    ),
    '',
    ...centralNote(r),
    ...(o.repeat > 1 ? [...renderRuns(modes), ''] : []),
    ...(r.goals.length ? ['## Against the goals', '', table(['measure', 'value', 'goal', 'met'], r.goals.map((g) => [g.measure, `${fixed(g.value, 3)}×`, g.goal, g.met === null ? '' : g.met ? 'yes' : '**no**'])), ''] : []),
    '## CPU use (cores kept busy = CPU seconds ÷ wall time of the pull)',
    '',
    ...renderCpu(modes),
    '',
    'Every server\'s output is in logs/<mode>/ next to this report.',
    '',
    '![completion CDF](completion-cdf.svg)',
    '',
    '![bytes by source](bytes-by-source.svg)',
    '',
    '## Per node' + (o.repeat > 1 ? ' (median run)' : ''),
    '',
    `Seed = the scheduler's seed in p2p, the central mirror in central; p2p-dht has none. First byte = ${o.client === 'containerd' ? 'the first layer bytes containerd had written, seen by polling its ingest directory every 0.1 s' : 'the first byte of any layer'}.`,
    '',
    table(
      ['mode', 'node', 'first byte s', 'done s', 'from origin MB', 'from seed MB', 'from peers MB'],
      modes.flatMap(([mode, m]) =>
        m.nodes.map((n, i) => [mode, String(i), fixed(n.firstByteSeconds, 2), fixed(n.doneSeconds, 2), fixed(n.bytesFromOrigin / MB, 1), fixed(n.bytesFromSeed / MB, 1), fixed(n.bytesFromPeers / MB, 1)]),
      ),
    ),
    ...renderFailures(modes),
  ];
  return `${lines.join('\n')}\n`;
}

const CLIENT_TEXT: Record<FanoutOptions['client'], string> = {
  daemon: 'the bench\'s HTTP client on each node (manifest, then config and layers 3 at a time, sha256 checked)',
  containerd: 'a containerd per node, `ctr content fetch` with the node\'s endpoint as the hosts.toml mirror',
};

/** Which link emulation the run used, with what it shapes. */
function linkText(o: FanoutResults['options']): string {
  if (o.link === 'ratelimit') {
    return 'ratelimit: token buckets in user space (the daemons\' and scheduler\'s --upload-rate/--download-rate, a throttling proxy for the origin\'s and the central mirror\'s uplinks and each node\'s downlink); no latency or loss';
  }
  const extras = [
    o.latencyMs === undefined ? 'no added latency' : `${o.latencyMs} ms one-way delay between hosts (netem)`,
    o.lossPercent === undefined ? 'no loss' : `${o.lossPercent} % of packets dropped on arrival (nftables)`,
  ];
  return `netns: a network namespace per host (the seed or central mirror, each node; the origin in the root namespace through a veth of its own) on one bridge, every link shaped to B both ways by tc tbf on the bridge side (a port's egress = the host's downlink, an ifb fed by the port's ingress = its uplink; tc counts Ethernet frames: rate B·1514/1448 so TCP payload gets B); Flotilla's own rate limits off; ${extras.join(', ')}`;
}

/** Why the central mirror's origin egress is far above S, when it is. */
function centralNote(r: FanoutResults): string[] {
  const central = r.modes.central;
  if (!central || !(central.originEgressBytes > 1.5 * r.imageBytes)) return [];
  return [
    `Central sent ${fixed(central.originEgressBytes / r.imageBytes, 2)}× S from the origin: docker-registry's pull-through cache stores a missed blob with a fetch of its own and streams every request that arrives meanwhile straight from the origin, so nodes that start together cost the origin about (N + 1)·S.`,
    '',
  ];
}

function renderRuns(modes: [ModeName, ModeResult][]): string[] {
  return [
    '### Every run',
    '',
    table(
      ['mode', 'all done s', 'p50 s', 'p95 s', 'origin egress MB', 'machine CPU busy', 'status'],
      modes.flatMap(([mode, m]) =>
        m.runs.map((run) => [mode, fixed(run.allDoneSeconds, 2), fixed(run.p50Seconds, 2), fixed(run.p95Seconds, 2), fixed(run.originEgressBytes / MB, 1), `${fixed(run.machineBusy * 100, 0)} %`, run.ok ? 'ok' : '**FAILED**']),
      ),
    ),
  ];
}

function renderCpu(modes: [ModeName, ModeResult][]): string[] {
  const roles = [...new Set(modes.flatMap(([, m]) => Object.keys(m.cpu?.roles ?? {})))];
  return [
    table(
      ['mode', 'wall s', ...roles.map((role) => `${role} cores`), 'all bench processes cores', 'machine busy', 'busy the second before'],
      modes.map(([mode, m]) => [
        mode,
        fixed(m.cpu?.wallSeconds ?? Number.NaN, 1),
        ...roles.map((role) => {
          const use = m.cpu?.roles[role];
          return use ? `${fixed(use.cores, 2)} (${fixed(use.cpuSeconds, 1)} s)` : '—';
        }),
        fixed(m.cpu?.benchCores ?? Number.NaN, 2),
        m.cpu ? `${fixed(m.cpu.machineBusy * 100, 0)} % of ${m.cpu.machineCores}` : '—',
        m.cpu ? `${fixed(m.cpu.busyBeforeStart * 100, 0)} %` : '—',
      ]),
    ),
    '',
    '"bench process" is this process: with --client daemon and --link ratelimit it runs every node\'s HTTP client and its sha256 checks, otherwise little more than this display ("client processes" or "containerd" are then the clients). Machine busy counts every process on the machine (/proc/stat), other work and the kernel\'s packet shaping included: it decides "saturated". Each mode starts after a second with < 30 % busy (waiting at most 15 s); the last column shows that second.',
  ];
}

function renderFailures(modes: [ModeName, ModeResult][]): string[] {
  const failed = modes.filter(([, m]) => m.errors.length > 0);
  if (failed.length === 0) return [];
  return ['', '## Failures', ...failed.flatMap(([mode, m]) => m.errors.flatMap((error) => ['', `### ${mode}`, '', '```', error.trimEnd(), '```']))];
}

export function table(header: string[], rows: string[][]): string {
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}
