import fc from 'fast-check';
import { choosePieceLength, MAX_PIECE_COUNT, pieceCountFor } from '../src/pieces.ts';
import type { HaveMessage, PieceRequest, PieceResponse } from '../src/piece-messages.ts';
import type { Parent, SchedRequest, SchedResponse, TaskMeta } from '../src/sched-messages.ts';

/** Valid Ed25519 peer ids (generated once). */
export const PEER_IDS = [
  '12D3KooWDqNXxg1jv5pGSjmwAcQH1awMmUWW2sArzYVJfcsu23JS',
  '12D3KooWEpCzKMsvXMJryuv8uK131NXQ5evFHMturAwdzgvarjSH',
  '12D3KooWM8EpL3BevUANjD48uWUbmkF4BJEDfNWLvDeJfPVpxmGV',
];

export const DIGEST = `sha256:${'ab'.repeat(32)}`;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
export const digest = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `sha256:${hex(b)}`),
  fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => `sha512:${hex(b)}`),
);
const peerId = fc.constantFrom(...PEER_IDS);
const address = fc
  .tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 }))
  .map(([ip, port]) => `/ip4/${ip}/tcp/${port}`);
const addresses = fc.array(address, { maxLength: 4 });
const text = fc.string({ maxLength: 64 });
const uint = fc.nat({ max: 2 ** 40 });
const parent: fc.Arbitrary<Parent> = fc.record({ peerId, addresses });
const parents = fc.array(parent, { maxLength: 4 });
const swarm = fc.array(peerId, { maxLength: 8 });
const indexes = (count: number): fc.Arbitrary<number[]> =>
  count === 0 ? fc.constant([]) : fc.uniqueArray(fc.nat({ max: count - 1 }), { maxLength: 32 }).map((a) => a.sort((x, y) => x - y));

export const taskMeta: fc.Arbitrary<TaskMeta> = fc
  .record({ digest, size: fc.nat({ max: 2 ** 31 }) })
  .chain(({ digest: d, size }) => {
    const pieceLength = choosePieceLength(size);
    const pieceCount = pieceCountFor(size, pieceLength);
    return fc
      .array(fc.option(digest, { nil: null }), { minLength: pieceCount, maxLength: pieceCount })
      .map((pieceDigests) => ({ digest: d, size, pieceLength, pieceCount, pieceDigests }));
  });

export const schedRequest: fc.Arbitrary<SchedRequest> = fc.oneof(
  fc.record(
    { type: fc.constant('register' as const), addresses, zone: text, uploadSlots: fc.nat({ max: 65535 }), uploadRate: uint },
    { requiredKeys: ['type', 'addresses', 'uploadSlots'] },
  ),
  fc.record(
    {
      type: fc.constant('task' as const),
      digest,
      registry: fc.constantFrom('docker.io', '127.0.0.1:5000', '[::1]:5000', 'registry-1.docker.io'),
      repository: fc.constantFrom('library/alpine', 'a/b-c/d_e', 'x'),
      authorization: fc.constantFrom('Bearer abc.def.ghi', 'Basic dXNlcjpwYXNz'),
    },
    { requiredKeys: ['type', 'digest', 'registry', 'repository'] },
  ),
  fc.record({
    type: fc.constant('report' as const),
    digest,
    finished: indexes(MAX_PIECE_COUNT),
    failed: fc.array(fc.record({ index: fc.nat({ max: MAX_PIECE_COUNT - 1 }), peer: peerId, reason: text }), { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant('reschedule' as const), digest, exclude: fc.array(peerId, { maxLength: 4 }) }),
  fc.constant({ type: 'leave' as const }),
);

export const schedResponse: fc.Arbitrary<SchedResponse> = fc.oneof(
  fc.record({ type: fc.constant('registered' as const), ttlMs: fc.nat({ max: 86_400_000 }) }),
  fc.record({ type: fc.constant('task-assigned' as const), meta: taskMeta, parents, swarm }, { requiredKeys: ['type', 'meta', 'parents'] }),
  fc.record({ type: fc.constant('back-to-source' as const), reason: text }),
  fc.record(
    {
      type: fc.constant('report-ack' as const),
      pieceDigests: fc.record({ from: fc.nat({ max: 100 }), digests: fc.array(digest, { maxLength: 8 }) }),
      parents,
      swarm,
    },
    { requiredKeys: ['type'] },
  ),
  fc.constant({ type: 'ok' as const }),
  fc.record({ type: fc.constant('error' as const), code: fc.constantFrom('unauthorized', 'not-registered', 'e2'), message: text }),
);

export const pieceRequest: fc.Arbitrary<PieceRequest> = fc.oneof(
  fc.record({ type: fc.constant('get' as const), digest, index: fc.nat({ max: MAX_PIECE_COUNT - 1 }) }),
  fc.record({ type: fc.constant('watch' as const), digest }),
);

export const pieceResponse: fc.Arbitrary<PieceResponse> = fc.oneof(
  fc.record({ type: fc.constant('piece' as const), index: fc.nat({ max: MAX_PIECE_COUNT - 1 }), length: fc.nat({ max: 16 * 2 ** 20 }) }),
  fc.constant({ type: 'busy' as const }),
  fc.record({ type: fc.constant('busy' as const), retryAfterMs: fc.nat({ max: 60_000 }) }),
  fc.constant({ type: 'missing' as const }),
);

/** A `have` frame; a seed's carries one digest per piece. */
export const have = (pieceCount: number): fc.Arbitrary<HaveMessage> =>
  fc.oneof(
    fc.record({ type: fc.constant('have' as const), pieces: indexes(pieceCount), complete: fc.boolean() }),
    fc
      .record({ pieces: indexes(pieceCount), complete: fc.boolean() })
      .chain(({ pieces, complete }) =>
        fc.array(digest, { minLength: pieces.length, maxLength: pieces.length }).map((digests) => ({ type: 'have' as const, pieces, complete, digests })),
      ),
  );

/** Replaces the value at one random path of a JSON object (or adds a field) with an arbitrary JSON value. */
export function mutate(message: object): fc.Arbitrary<unknown> {
  const paths = jsonPaths(message);
  return fc.tuple(fc.constantFrom(...paths), fc.jsonValue()).map(([path, value]) => setAt(structuredClone(message), path, value));
}

function jsonPaths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const keys: (string | number)[] = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [prefix, ...keys.flatMap((k) => jsonPaths((value as Record<string | number, unknown>)[k], [...prefix, k]))];
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path.at(-1)!] = value;
  return root;
}
