import { fileURLToPath } from 'node:url';
import { prefixedCommand, startService, type Service } from '@flotilla/test';
import type { Cleanup } from '../common/cleanup.ts';
import { pullImage, WrongContentError, type NodeEndpoint, type NodePull, type PullOptions } from './client.ts';
import { startContainerdClients } from './containerd-client.ts';
import type { BenchImage } from './image.ts';
import type { LinkEmulation } from './links.ts';
import type { ClientKind } from './options.ts';
import { inBatches, READY_TIMEOUT_MS, STARTING_AT_ONCE } from './swarm-daemons.ts';
import { pidOf } from './topology.ts';

const CLIENT_MAIN = fileURLToPath(new URL('./client-process-main.ts', import.meta.url));

/** What pulls the image on every node, started and waiting for the common start. */
export interface NodeClients {
  /** Node `index` pulls the image; rejects on a wrong digest, an error, or the abort. */
  pull(index: number, options: PullOptions): Promise<NodePull>;
  /** Client processes by role, whose CPU time is measured (this process is measured anyway). */
  roles: Record<string, number[]>;
  /** Processes whose output is kept with the results. */
  services: Record<string, Service>;
  /** Role of the short-lived commands run per pull (ctr), measured when they exit. */
  finishedChildrenRole?: string;
}

export interface ClientContext {
  scope: Cleanup;
  link: LinkEmulation;
  image: BenchImage;
  endpoints: NodeEndpoint[];
}

/**
 * --client daemon pulls with the bench's HTTP client: in this process when every node is on loopback, in a process
 * inside each node's namespace under --link netns. --client containerd runs a containerd per node.
 */
export function startNodeClients(kind: ClientKind, ctx: ClientContext): Promise<NodeClients> {
  if (kind === 'containerd') return startContainerdClients(ctx);
  if (ctx.link.kind === 'netns') return startClientProcesses(ctx);
  return Promise.resolve({ pull: (index, options) => pullImage(ctx.endpoints[index]!, ctx.image, options), roles: {}, services: {} });
}

interface ClientProcess {
  service: Service;
  pull(options: PullOptions): Promise<NodePull>;
}

async function startClientProcesses(ctx: ClientContext): Promise<NodeClients> {
  const clients = await inBatches(ctx.endpoints.length, STARTING_AT_ONCE, (i) => startClientProcess(ctx, i));
  return {
    pull: (index, options) => clients[index]!.pull(options),
    roles: { 'client processes': clients.map((client) => pidOf(client.service, 'client')) },
    services: Object.fromEntries(clients.map((client, i) => [`client-${i}`, client.service])),
  };
}

/** A client-process-main.ts in node `index`'s namespace, ready and waiting for its start line. */
async function startClientProcess(ctx: ClientContext, index: number): Promise<ClientProcess> {
  const { command, args } = prefixedCommand(ctx.link.node(index).commandPrefix, process.execPath, [
    CLIENT_MAIN,
    JSON.stringify({ endpoint: ctx.endpoints[index], image: ctx.image }),
  ]);
  const started = await ctx.scope.start(
    startService(command, args, { ready: /"msg":"client ready"/, readyTimeoutMs: READY_TIMEOUT_MS, stdio: ['pipe', 'pipe', 'pipe'] }).then(
      ({ service }) => ({ service, stop: () => service.stop() }),
    ),
  );
  const { service } = started;
  return {
    service,
    pull: (options) =>
      new Promise<NodePull>((resolve, reject) => {
        const startSentAt = performance.now();
        const offset = (startSentAt - options.startedAt) / 1000;
        let partial = '';
        let settled = false;
        const settle = (finish: () => void) => {
          if (settled) return;
          settled = true;
          options.signal.removeEventListener('abort', onAbort);
          finish();
        };
        const onAbort = () => settle(() => reject(options.signal.reason as Error));
        options.signal.addEventListener('abort', onAbort, { once: true });
        options.signal.addEventListener('abort', () => void started.stop(), { once: true });
        service.child.stdout!.on('data', (chunk: Buffer) => {
          const lines = (partial + chunk.toString()).split('\n');
          partial = lines.pop() ?? '';
          for (const text of lines) {
            const line = parseLine(text);
            if (line?.msg === 'bytes') options.onBytes(Number(line['bytes']));
            else if (line?.msg === 'pulled') {
              const times = { firstByteSeconds: offset + Number(line['firstByteSeconds']), doneSeconds: offset + Number(line['doneSeconds']) };
              settle(() => resolve(times));
            } else if (line?.msg === 'pull failed') {
              const error = String(line['error']);
              settle(() => reject(line['wrongContent'] ? new WrongContentError(error) : new Error(error)));
            }
          }
        });
        service.child.once('exit', (code, signal) =>
          settle(() => reject(new Error(`client process exited (${code ?? signal}) before reporting: ${service.output().slice(-1000)}`))),
        );
        service.child.stdin!.write('start\n');
      }),
  };
}

function parseLine(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
