import { describe, expect, it } from 'vitest';
import { HostRegistry } from '../src/hosts.ts';
import { TaskTable, type TaskMetaState } from '../src/tasks.ts';

const meta = (digest: string, pieceCount = 3): TaskMetaState => ({
  digest,
  size: pieceCount * 1024,
  pieceLength: 1024,
  pieceCount,
  pieceDigests: new Array(pieceCount).fill(null),
});
const ORIGIN = { registry: '127.0.0.1:5000', repository: 'a/b' };

describe('TaskTable', () => {
  it('counts unfinished children per parent across tasks, and releases them on finish, re-parenting and removal', () => {
    const table = new TaskTable();
    const t1 = table.create(meta('sha256:1'), ORIGIN, 0);
    const t2 = table.create(meta('sha256:2'), ORIGIN, 0);
    const c1 = table.join(t1, 'c1', 0);
    const c2 = table.join(t2, 'c2', 0);
    table.setParents(c1, ['seed', 'p']);
    table.setParents(c2, ['seed']);
    expect(table.activeChildren('seed')).toBe(2);
    expect(table.activeChildren('p')).toBe(1);

    table.setParents(c1, ['q']);
    expect([table.activeChildren('seed'), table.activeChildren('p'), table.activeChildren('q')]).toEqual([1, 0, 1]);

    expect(table.addPieces(t1, c1, [0, 1, 1], 5)).toBe(2);
    expect(c1.finishedAt).toBeUndefined();
    table.addPieces(t1, c1, [2], 6);
    expect(c1.finishedAt).toBe(6);
    expect(t1.finishedPieces).toBe(3);
    expect(table.activeChildren('q')).toBe(0);
    // A finished child's parents no longer count, even when it is handed new ones.
    table.setParents(c1, ['q']);
    expect(table.activeChildren('q')).toBe(0);

    expect(table.removePeer('c2')).toEqual(['sha256:2']);
    expect(table.activeChildren('seed')).toBe(0);
    expect(t2.peers.size).toBe(0);
  });

  it('ignores out-of-range piece indexes', () => {
    const table = new TaskTable();
    const task = table.create(meta('sha256:1', 2), ORIGIN, 0);
    const peer = table.join(task, 'c', 0);
    expect(table.addPieces(task, peer, [2, -1, 1.5], 0)).toBe(0);
    expect(peer.pieces.count).toBe(0);
  });
});

describe('HostRegistry', () => {
  it('keeps hosts alive on any call and expires silent ones', () => {
    const hosts = new HostRegistry(1000);
    hosts.register('a', { addresses: ['/ip4/127.0.0.1/tcp/1'], uploadSlots: 5 }, 0);
    hosts.register('b', { addresses: [], uploadSlots: 5, zone: 'z' }, 0);
    expect(hosts.touch('a', 900)).toBe(true);
    expect(hosts.touch('nobody', 900)).toBe(false);
    expect(hosts.isAlive('b', 1001)).toBe(false);
    expect(hosts.expire(1500)).toEqual(['b']);
    expect(hosts.list().map((h) => h.peerId)).toEqual(['a']);
    expect(hosts.get('a')?.registeredAt).toBe(0);
  });
});
