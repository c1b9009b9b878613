import { describe, expect, it } from 'vitest';
import { QueuedBody } from '../src/pooled-body.ts';
import { holdBytes, ReceiveBuffer, SlabPool } from '../src/receive-buffers.ts';

const slabs = new SlabPool();

/** Fills `length` bytes of a receive buffer's target as a socket read would, returning the held view. */
function read(receive: ReceiveBuffer, length: number, fill: number) {
  receive.target().fill(fill, 0, length);
  return receive.took(length);
}

describe('receive buffers', () => {
  it('reads land back to back in one slab, which is reused only once every hold on it is released', () => {
    const receive = new ReceiveBuffer(slabs);
    const a = read(receive, 1000, 1);
    const b = read(receive, 2000, 2);
    expect(b.bytes.buffer).toBe(a.bytes.buffer);
    expect(b.bytes.byteOffset).toBe(a.bytes.byteOffset + 1000);
    const slab = a.bytes.buffer;
    const extra = holdBytes(b.bytes.subarray(10, 20));
    a.release();
    b.release();
    // A double release must not give the slab back early.
    b.release();
    receive.close();
    const other = new ReceiveBuffer(slabs);
    const c = read(other, 10, 3);
    expect(c.bytes.buffer).not.toBe(slab);
    expect(b.bytes[0]).toBe(2);
    c.release();
    other.close();
    extra();
    const again = new ReceiveBuffer(slabs);
    expect(again.target().buffer).toBe(slab);
    again.close();
  });

  it('a pool keeps at most its configured number of free slabs', () => {
    const pool = new SlabPool(1);
    const [first, second] = [new ReceiveBuffer(pool), new ReceiveBuffer(pool)];
    const slabsInUse = [first.target().buffer, second.target().buffer];
    first.close();
    second.close();
    // Only the first slab given back is kept; the next two reads need one reused slab and one new one.
    const [third, fourth] = [new ReceiveBuffer(pool), new ReceiveBuffer(pool)];
    expect(third.target().buffer).toBe(slabsInUse[0]);
    expect(slabsInUse).not.toContain(fourth.target().buffer);
    third.close();
    fourth.close();
  });

  it('holding memory that is not pooled is free and harmless', () => {
    const release = holdBytes(Buffer.from('not pooled'));
    release();
    release();
  });
});

describe('queued body', () => {
  it('joins adjacent runs, keeps order, ends after the last byte', async () => {
    const receive = new ReceiveBuffer(slabs);
    const body = new QueuedBody();
    const parts = [read(receive, 100, 1), read(receive, 100, 2)];
    for (const part of parts) {
      body.push(part.bytes);
      part.release();
    }
    const separate = Buffer.from('elsewhere');
    body.push(separate);
    body.end();
    const first = await body.read();
    expect(first?.bytes.length).toBe(200);
    expect([first!.bytes[0], first!.bytes[199]]).toEqual([1, 2]);
    first!.release();
    const second = await body.read();
    expect(second?.bytes.toString()).toBe('elsewhere');
    second!.release();
    expect(await body.read()).toBeUndefined();
    receive.close();
  });

  it('asks the connection to stop past its read-ahead and to resume once half of it has been read', async () => {
    const body = new QueuedBody(4 << 20);
    let resumed = 0;
    body.attach({ resume: () => resumed++, destroy: () => {} });
    const MiB = Buffer.alloc(1 << 20);
    expect([1, 2, 3].map(() => body.push(Buffer.from(MiB)))).toEqual([true, true, true]);
    expect(body.push(Buffer.from(MiB))).toBe(false);
    (await body.read())!.release();
    expect(resumed).toBe(0);
    (await body.read())!.release();
    expect(resumed).toBe(1);
  });

  it('a failure reaches the reader and releases what was unread; destroy tells the connection', async () => {
    const body = new QueuedBody();
    const waiting = body.read();
    const failure = new Error('connection reset');
    body.fail(failure);
    await expect(waiting).rejects.toBe(failure);

    const receive = new ReceiveBuffer(slabs);
    const unread = new QueuedBody();
    const part = read(receive, 10, 1);
    unread.push(part.bytes);
    part.release();
    receive.close();
    unread.fail(failure);
    await expect(unread.read()).rejects.toBe(failure);
    const next = new ReceiveBuffer(slabs);
    expect(next.target().buffer).toBe(part.bytes.buffer);
    next.close();

    const destroyed: unknown[] = [];
    const other = new QueuedBody();
    other.attach({ resume: () => {}, destroy: (reason) => destroyed.push(reason) });
    const reason = new Error('reader gave up');
    other.destroy(reason);
    expect(destroyed).toEqual([reason]);
    await expect(other.read()).rejects.toBe(reason);
  });
});
