import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@flotilla/log';
import { createP2PNode, type P2PNode, type P2PNodeOptions } from './node.ts';

export interface TestNodeOptions extends Partial<Omit<P2PNodeOptions, 'swarmKeyFile'>> {
  /** Swarm key text (see generateSwarmKey); written to a file for the node. */
  swarmKey?: string;
}

/** Loopback libp2p nodes in a temporary directory, for tests of this package and its users. */
export class TestNetwork {
  readonly dir: string;
  readonly #nodes: P2PNode[] = [];
  #count = 0;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(): Promise<TestNetwork> {
    return new TestNetwork(await mkdtemp(join(tmpdir(), 'flotilla-p2p-')));
  }

  /** A started node on 127.0.0.1 with its own identity file (pass identityFile to reuse one). */
  async node(options: TestNodeOptions = {}): Promise<P2PNode> {
    const name = `node-${this.#count++}`;
    const { swarmKey, ...rest } = options;
    let swarmKeyFile: string | undefined;
    if (swarmKey !== undefined) {
      swarmKeyFile = join(this.dir, `${name}.swarm.key`);
      await writeFile(swarmKeyFile, swarmKey, { mode: 0o600 });
    }
    const node = await createP2PNode({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      identityFile: join(this.dir, `${name}.key`),
      logger: silentLogger(),
      ...rest,
      ...(swarmKeyFile === undefined ? {} : { swarmKeyFile }),
    });
    this.#nodes.push(node);
    return node;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.#nodes.map((node) => node.stop()));
    await rm(this.dir, { recursive: true, force: true });
  }
}
