const TTY_INTERVAL_MS = 500;
const LOG_INTERVAL_MS = 5_000;

export interface ProgressState {
  /** Blob bytes received by all nodes so far. */
  receivedBytes: number;
  nodesDone: number;
  /** The origin's egress at the last poll. */
  originBytes: number;
}

/**
 * One live status line on stderr while a mode runs: rewritten in place on a terminal, a line every few seconds
 * otherwise (CI logs).
 */
export function startProgress(
  label: string,
  totals: { nodes: number; bytes: number },
  state: ProgressState,
  pollOrigin: () => Promise<number>,
): { stop(): void } {
  const tty = process.stderr.isTTY;
  const started = performance.now();
  const render = () => {
    const seconds = (performance.now() - started) / 1000;
    return (
      `[${label}] ${seconds.toFixed(1)} s · nodes done ${state.nodesDone}/${totals.nodes}` +
      ` · received ${gb(state.receivedBytes)}/${gb(totals.bytes)} GB (${((state.receivedBytes / 1e6) / Math.max(seconds, 1e-3)).toFixed(0)} MB/s)` +
      ` · origin sent ${gb(state.originBytes)} GB`
    );
  };
  let stopped = false;
  const timer = setInterval(
    () => {
      void pollOrigin()
        .then((bytes) => (state.originBytes = bytes))
        .catch(() => {}) // a poll that fails (proxy stopping) keeps the last figure
        .then(() => {
          if (!stopped) process.stderr.write(tty ? `\r\x1b[K${render()}` : `${render()}\n`);
        });
    },
    tty ? TTY_INTERVAL_MS : LOG_INTERVAL_MS,
  );
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      process.stderr.write(tty ? `\r\x1b[K${render()}\n` : `${render()}\n`);
    },
  };
}

function gb(bytes: number): string {
  return (bytes / 1e9).toFixed(2);
}
