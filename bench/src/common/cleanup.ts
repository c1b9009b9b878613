/**
 * Everything the benchmark started (registries and daemons, with their temp dirs), stopped in reverse order. One stack for the
 * normal path, errors and Ctrl-C, so no run leaves a registry or a 1 GiB temp file behind.
 */
export class Cleanup {
  private readonly tasks: Array<() => Promise<void>> = [];
  private running: Promise<void> | undefined;
  private closed = false;

  /** Registers a stop function; returns it so a phase can also run it early (it then runs only once). */
  add(task: () => Promise<void>): () => Promise<void> {
    let done: Promise<void> | undefined;
    const once = () => (done ??= task());
    this.tasks.push(once);
    return once;
  }

  /** Starts a resource and registers its stop() in one step. */
  async start<T extends { stop(): Promise<void> }>(starting: Promise<T>): Promise<T & { stop(): Promise<void> }> {
    const resource = await starting;
    if (this.closed) {
      // Ready after an interrupt began the cleanup: stop it now rather than leave it running.
      await resource.stop();
      throw new Error('interrupted');
    }
    return { ...resource, stop: this.add(() => resource.stop()) };
  }

  /** Runs every task, last first; a failing task is reported and does not keep the others from running. */
  run(): Promise<void> {
    this.closed = true;
    this.running ??= (async () => {
      for (let task = this.tasks.pop(); task; task = this.tasks.pop()) {
        try {
          await task();
        } catch (err) {
          process.stderr.write(`cleanup: ${(err as Error).message}\n`);
        }
      }
    })();
    return this.running;
  }
}
