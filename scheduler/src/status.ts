import type { HostRegistry } from './hosts.ts';
import type { SeedPieceServer } from './seed-pieces.ts';
import type { Seeds } from './seed.ts';
import type { TaskTable } from './tasks.ts';

/** JSON views behind GET /tasks and GET /hosts: what an operator needs to see who holds what and who serves whom. */
export function tasksView(tasks: TaskTable, seeds: Seeds, uploads: SeedPieceServer): unknown {
  return {
    seed: { activeUploads: uploads.activeUploads, uploadedBytes: uploads.uploadedBytes },
    tasks: tasks.list().map((task) => {
      const seed = seeds.get(task.meta.digest);
      return {
        digest: task.meta.digest,
        registry: task.registry,
        repository: task.repository,
        size: task.meta.size,
        pieceLength: task.meta.pieceLength,
        pieceCount: task.meta.pieceCount,
        seedPieces: seed?.piecesReady ?? 0,
        finishedPieces: task.finishedPieces,
        failedPieces: task.failedPieces,
        blocklist: [...task.blocklist],
        createdAt: new Date(task.createdAt).toISOString(),
        peers: [...task.peers.values()].map((peer) => ({
          peerId: peer.peerId,
          pieces: peer.pieces.count,
          complete: peer.pieces.complete,
          parents: peer.parents,
          joinedAt: new Date(peer.joinedAt).toISOString(),
          ...(peer.finishedAt !== undefined ? { finishedAt: new Date(peer.finishedAt).toISOString() } : {}),
        })),
      };
    }),
  };
}

export function hostsView(hosts: HostRegistry, tasks: TaskTable): unknown {
  return {
    hosts: hosts.list().map((host) => ({
      peerId: host.peerId,
      addresses: host.addresses,
      ...(host.zone !== undefined ? { zone: host.zone } : {}),
      uploadSlots: host.uploadSlots,
      activeChildren: tasks.activeChildren(host.peerId),
      registeredAt: new Date(host.registeredAt).toISOString(),
      lastSeen: new Date(host.lastSeen).toISOString(),
    })),
  };
}
