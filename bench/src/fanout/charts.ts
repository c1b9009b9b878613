/**
 * The report's two charts as hand-written SVG (no plotting dependency for two simple figures): the completion CDF
 * of every mode with the S/B floor marked, and every node's bytes by source.
 */
import type { NodeResult } from './run-mode.ts';

export const WIDTH = 760;
export const HEIGHT = 420;
export const MARGIN = { left: 64, right: 24, top: 40, bottom: 64 };
export const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
export const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
const FONT = 'font-family="sans-serif" font-size="12"';

const MODE_COLORS: Record<string, string> = { direct: '#d62728', central: '#ff7f0e', p2p: '#1f77b4', 'p2p-dht': '#2ca02c' };
const SOURCE_COLORS = { origin: '#7f7f7f', seed: '#ff7f0e', peers: '#1f77b4' } as const;
const SOURCE_LABELS = { origin: 'origin', seed: 'seed (central: the mirror)', peers: 'other peers' } as const;

/** Fraction of nodes done against time, one step curve per mode; a dashed line at S/B. */
export function completionCdfSvg(curves: { mode: string; doneSeconds: number[]; color?: string }[], idealSeconds: number): string {
  const maxSeconds = Math.max(idealSeconds, ...curves.flatMap((c) => c.doneSeconds)) * 1.05;
  const ticks = niceTicks(maxSeconds);
  const xMax = ticks.at(-1)!;
  const x = (seconds: number) => MARGIN.left + (seconds / xMax) * PLOT_W;
  const y = (share: number) => MARGIN.top + (1 - share) * PLOT_H;
  const parts = [
    ...frame('Completion: share of nodes done', 'seconds since every node started pulling', 'nodes done'),
    ...ticks.map((t) => tick('x', x(t), String(t))),
    ...[0, 0.25, 0.5, 0.75, 1].map((share) => tick('y', y(share), `${share * 100}%`)),
    `<line x1="${x(idealSeconds)}" y1="${y(0)}" x2="${x(idealSeconds)}" y2="${y(1)}" stroke="#000" stroke-dasharray="6 4"/>`,
    `<text x="${x(idealSeconds) + 4}" y="${y(1) + 14}" ${FONT}>S/B = ${idealSeconds.toFixed(1)} s</text>`,
  ];
  curves.forEach((curve, i) => {
    const sorted = [...curve.doneSeconds].sort((a, b) => a - b);
    const n = sorted.length;
    const points = [[0, 0], ...sorted.flatMap((t, k) => [[t, k / n], [t, (k + 1) / n]])];
    const path = points.map(([t, share], k) => `${k === 0 ? 'M' : 'L'}${x(t!).toFixed(1)},${y(share!).toFixed(1)}`).join(' ');
    const color = curve.color ?? MODE_COLORS[curve.mode] ?? '#000';
    parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    parts.push(legendEntry(MARGIN.left + PLOT_W - 110, MARGIN.top + PLOT_H - 20 - 18 * (curves.length - 1 - i), color, curve.mode));
  });
  return svg(parts);
}

/** Per node, per mode: bytes from the origin, the seed (central: the mirror) and other peers, as a share of S. */
export function bytesBySourceSvg(groups: { mode: string; nodes: NodeResult[] }[], imageBytes: number): string {
  const totals = groups.flatMap((g) => g.nodes.map((n) => n.bytesFromOrigin + n.bytesFromSeed + n.bytesFromPeers));
  const ticks = niceTicks(Math.max(1, ...totals.map((total) => total / imageBytes)));
  const yMax = ticks.at(-1)!;
  const y = (share: number) => MARGIN.top + (1 - share / yMax) * PLOT_H;
  const groupW = PLOT_W / Math.max(1, groups.length);
  const parts = [
    ...frame('Bytes by source, per node', 'nodes, grouped by mode', 'share of the image (S)'),
    ...ticks.map((share) => tick('y', y(share), `${Math.round(share * 100)}%`)),
  ];
  groups.forEach((group, g) => {
    const left = MARGIN.left + g * groupW;
    const barW = (groupW * 0.8) / Math.max(1, group.nodes.length);
    group.nodes.forEach((node, i) => {
      let base = 0;
      const bx = left + groupW * 0.1 + i * barW;
      for (const [source, bytes] of [['origin', node.bytesFromOrigin], ['seed', node.bytesFromSeed], ['peers', node.bytesFromPeers]] as const) {
        const share = bytes / imageBytes;
        if (share > 0) {
          parts.push(
            `<rect x="${bx.toFixed(1)}" y="${y(base + share).toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${(y(base) - y(base + share)).toFixed(1)}" fill="${SOURCE_COLORS[source]}"/>`,
          );
        }
        base += share;
      }
    });
    parts.push(`<text x="${(left + groupW / 2).toFixed(1)}" y="${y(0) + 18}" text-anchor="middle" ${FONT}>${escapeXml(group.mode)}</text>`);
  });
  (['origin', 'seed', 'peers'] as const).forEach((source, i) =>
    parts.push(legendEntry(MARGIN.left + 8 + i * 210, HEIGHT - 8, SOURCE_COLORS[source], SOURCE_LABELS[source])),
  );
  return svg(parts);
}

/** Round tick values from 0 covering `max` (steps of 1, 2 or 5 × 10^k, about six of them). */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / 6;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
  const ticks: number[] = [];
  for (let k = 0; ; k++) {
    const value = Number((k * step).toPrecision(12));
    ticks.push(value);
    if (value >= max) return ticks;
  }
}

export function frame(title: string, xLabel: string, yLabel: string): string[] {
  const bottom = MARGIN.top + PLOT_H;
  return [
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-family="sans-serif" font-size="15">${escapeXml(title)}</text>`,
    `<line x1="${MARGIN.left}" y1="${bottom}" x2="${MARGIN.left + PLOT_W}" y2="${bottom}" stroke="#000"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${bottom}" stroke="#000"/>`,
    `<text x="${MARGIN.left + PLOT_W / 2}" y="${bottom + 38}" text-anchor="middle" ${FONT}>${escapeXml(xLabel)}</text>`,
    `<text x="16" y="${MARGIN.top + PLOT_H / 2}" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + PLOT_H / 2})" ${FONT}>${escapeXml(yLabel)}</text>`,
  ];
}

export function tick(axis: 'x' | 'y', at: number, label: string): string {
  const bottom = MARGIN.top + PLOT_H;
  if (axis === 'x') {
    return `<line x1="${at.toFixed(1)}" y1="${bottom}" x2="${at.toFixed(1)}" y2="${bottom + 5}" stroke="#000"/><text x="${at.toFixed(1)}" y="${bottom + 18}" text-anchor="middle" ${FONT}>${label}</text>`;
  }
  return (
    `<line x1="${MARGIN.left - 5}" y1="${at.toFixed(1)}" x2="${MARGIN.left + PLOT_W}" y2="${at.toFixed(1)}" stroke="#e5e5e5"/>` +
    `<text x="${MARGIN.left - 8}" y="${(at + 4).toFixed(1)}" text-anchor="end" ${FONT}>${label}</text>`
  );
}

export function legendEntry(x: number, y: number, color: string, label: string): string {
  return `<rect x="${x}" y="${y - 10}" width="14" height="10" fill="${color}"/><text x="${x + 20}" y="${y}" ${FONT}>${escapeXml(label)}</text>`;
}

export function svg(parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">\n${parts.join('\n')}\n</svg>\n`;
}

export function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
