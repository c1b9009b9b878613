import type { BlobWriter } from '@flotilla/store';
import type { TaskMeta } from '@flotilla/wire';
import { describe, expect, it } from 'vitest';
import { ActiveDownloads } from '../src/swarm/active-downloads.ts';

const meta = (n: number): TaskMeta => ({ digest: `sha256:${String(n).padStart(64, '0')}`, size: 4, pieceLength: 1, pieceCount: 4, pieceDigests: ['a', 'b', 'c', 'd'] });
// The writer is only handed back to the piece server; these tests never read through it.
const writer = {} as BlobWriter;

describe('ActiveDownloads.inFlightShare', () => {
  it('splits --pieces-in-flight over the downloads still running, at least 2 each', () => {
    const active = new ActiveDownloads();
    expect(active.inFlightShare(8)).toBe(8);
    const a = active.start(meta(1), writer);
    expect(active.inFlightShare(8)).toBe(8);
    const b = active.start(meta(2), writer);
    const c = active.start(meta(3), writer);
    expect(active.inFlightShare(8)).toBe(3);
    for (let n = 4; n <= 6; n++) active.start(meta(n), writer);
    expect(active.inFlightShare(8)).toBe(2);
    active.failed(a);
    active.failed(a);
    active.finished(b);
    active.finished(c);
    // Three left; a finished blob is still served (listed) but no longer counted.
    expect(active.inFlightShare(8)).toBe(3);
    expect(active.get(meta(2).digest)).toBe(b);
    expect(active.get(meta(1).digest)).toBeUndefined();
  });
});
