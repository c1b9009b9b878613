import type { LookupResults } from './run.ts';

/** The goal of issue 4: a miss with no scheduler finds a provider in ≤ 50 ms at the median. */
const GOAL_P50_MS = 50;

const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(1)} ms` : 'n/a');

/** report.md: the lookup latencies, the goal, and what they were measured on. */
export function renderLookupReport(r: LookupResults): string {
  const { machine: m } = r;
  const met = r.firstProviderMs.p50 <= GOAL_P50_MS ? 'met' : 'NOT met';
  return [
    `# DHT provider lookup: ${r.daemons} daemons, no scheduler`,
    '',
    `${r.lookups} lookups (${r.rounds} rounds of ${r.daemons} at once), each for a ${r.blobBytes}-byte blob one other daemon`,
    `holds (more as the rounds go on); --dht-lookup-timeout ${r.lookupTimeoutMs} ms during the run.`,
    '',
    '| | p50 | p90 | p99 | max |',
    '|---|---|---|---|---|',
    `| until the first provider | ${ms(r.firstProviderMs.p50)} | ${ms(r.firstProviderMs.p90)} | ${ms(r.firstProviderMs.p99)} | ${ms(r.firstProviderMs.max)} |`,
    `| whole lookup | ${ms(r.lookupMs.p50)} | ${ms(r.lookupMs.p90)} | ${ms(r.lookupMs.p99)} | ${ms(r.lookupMs.max)} |`,
    '',
    `- Goal p50 ≤ ${GOAL_P50_MS} ms until the first provider: **${met}**.`,
    `- Within the default 100 ms deadline: ${(r.withinDefaultDeadline * 100).toFixed(1)} % of lookups; no provider found: ${r.misses}.`,
    `- Client-side pull (lookup, signed meta, pieces): p50 ${ms(r.pullMs.p50)}, p99 ${ms(r.pullMs.p99)}; origin blob GETs during the rounds: ${r.originBlobGets}.`,
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}, commit ${m.commit}.`,
    '',
  ].join('\n');
}
