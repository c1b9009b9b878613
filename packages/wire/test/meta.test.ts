import { createHash, randomBytes } from 'node:crypto';
import type { P2PNode } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireError } from '../src/errors.ts';
import { signTaskMeta, verifyTaskMeta, type MetaSignature, type SignedTaskMeta } from '../src/meta-signature.ts';
import { parseBlobMetaResponse } from '../src/piece-messages.ts';
import { handlePiece, pieceMeta } from '../src/piece-rpc.ts';
import { choosePieceLength, pieceCountFor, pieceRange } from '../src/pieces.ts';
import { parseSchedResponse, type TaskMeta } from '../src/sched-messages.ts';

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function completeMeta(bytes: Buffer): SignedTaskMeta['meta'] {
  const size = bytes.byteLength;
  const pieceLength = choosePieceLength(size);
  const pieceCount = pieceCountFor(size, pieceLength);
  const pieceDigests = Array.from({ length: pieceCount }, (_, i) => {
    const { start, end } = pieceRange(i, size, pieceLength);
    return sha256(bytes.subarray(start, end));
  });
  return { digest: sha256(bytes), size, pieceLength, pieceCount, pieceDigests };
}

async function signer(): Promise<{ sign(meta: TaskMeta): Promise<MetaSignature>; id: string }> {
  const key = await generateKeyPair('Ed25519');
  const id = peerIdFromPrivateKey(key).toString();
  return { id, sign: (meta) => signTaskMeta(meta, key, id) };
}

describe('signed task meta', () => {
  const meta = completeMeta(randomBytes(3 * 1024 * 1024 + 5));

  it('verifies under the signer\'s key and fails for any change', async () => {
    const scheduler = await signer();
    const signature = await scheduler.sign(meta);
    expect(await verifyTaskMeta(meta, signature)).toBe(true);

    const otherDigest = [...meta.pieceDigests];
    otherDigest[1] = sha256(Buffer.from('forged'));
    expect(await verifyTaskMeta({ ...meta, pieceDigests: otherDigest }, signature)).toBe(false);
    expect(await verifyTaskMeta({ ...meta, size: meta.size - 1 }, signature)).toBe(false);
    expect(await verifyTaskMeta(meta, { ...signature, signer: (await signer()).id })).toBe(false);
    expect(await verifyTaskMeta({ ...meta, pieceDigests: [null, ...meta.pieceDigests.slice(1)] }, signature)).toBe(false);
  });

  it('refuses to sign meta with unknown digests', async () => {
    const scheduler = await signer();
    await expect(scheduler.sign({ ...meta, pieceDigests: meta.pieceDigests.map(() => null) })).rejects.toThrow(/missing/);
  });

  it('travels in task-assigned and report-ack, and older replies without it still parse', async () => {
    const signature = await (await signer()).sign(meta);
    const encode = (v: object): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
    expect(parseSchedResponse(encode({ type: 'task-assigned', meta, parents: [], signature }))).toEqual({ type: 'task-assigned', meta, parents: [], signature });
    expect(parseSchedResponse(encode({ type: 'report-ack', signature }))).toEqual({ type: 'report-ack', signature });
    expect(parseSchedResponse(encode({ type: 'task-assigned', meta, parents: [] }))).toEqual({ type: 'task-assigned', meta, parents: [] });
    expect(() => parseSchedResponse(encode({ type: 'report-ack', signature: { ...signature, signature: 'not base64!' } }))).toThrow(WireError);
  });

  it('a blob-meta reply must describe the blob that was asked for', async () => {
    const signature = await (await signer()).sign(meta);
    const encode = (v: object): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
    expect(parseBlobMetaResponse(encode({ type: 'blob-meta', size: meta.size }), meta.digest)).toEqual({ type: 'blob-meta', size: meta.size });
    expect(() => parseBlobMetaResponse(encode({ type: 'blob-meta', size: meta.size, signed: { meta, signature } }), sha256(Buffer.from('other')))).toThrow(WireError);
    expect(() => parseBlobMetaResponse(encode({ type: 'blob-meta', size: meta.size + 1, signed: { meta, signature } }), meta.digest)).toThrow(WireError);
    expect(() => parseBlobMetaResponse(encode({ type: 'blob-meta', size: meta.size, signed: { meta } }), meta.digest)).toThrow(WireError);
  });
});

describe('meta over the piece protocol', () => {
  let net: TestNetwork;
  let holder: P2PNode;
  let legacy: P2PNode;
  let child: P2PNode;
  const meta = completeMeta(randomBytes(100_000));
  let signature: MetaSignature;

  beforeAll(async () => {
    net = await TestNetwork.create();
    [holder, legacy, child] = await Promise.all([net.node(), net.node(), net.node()]);
    signature = await (await signer()).sign(meta);
    const noPieces = { get: async () => ({ type: 'missing' }) as const, watch: async function* () {} };
    await handlePiece(holder, {
      ...noPieces,
      async meta({ digest }) {
        return digest === meta.digest ? { type: 'blob-meta', size: meta.size, signed: { meta, signature } } : { type: 'missing' };
      },
    });
    await handlePiece(legacy, noPieces);
  });
  afterAll(async () => {
    await net.stop();
  });

  it('returns the signed meta of a held blob, missing for others', async () => {
    await child.peerStore.merge(holder.peerId, { multiaddrs: holder.getMultiaddrs() });
    expect(await pieceMeta(child, holder.peerId, meta.digest)).toEqual({ type: 'blob-meta', size: meta.size, signed: { meta, signature } });
    expect(await pieceMeta(child, holder.peerId, sha256(Buffer.from('unknown')))).toEqual({ type: 'missing' });
  });

  it('a server without a meta handler answers missing', async () => {
    await child.peerStore.merge(legacy.peerId, { multiaddrs: legacy.getMultiaddrs() });
    expect(await pieceMeta(child, legacy.peerId, meta.digest)).toEqual({ type: 'missing' });
  });
});
