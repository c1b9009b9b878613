import { isValidRepositoryName, MAX_NAME_LENGTH } from '@flotilla/oci';
import { WireError } from './errors.ts';
import { isCompleteMeta, metaSignatureOf, type MetaSignature, type SignedTaskMeta } from './meta-signature.ts';
import { MAX_BLOB_SIZE, MAX_PIECE_COUNT, MAX_PIECE_LENGTH, pieceCountFor } from './pieces.ts';
import {
  arrayValue,
  decodeJson,
  digestValue,
  Fields,
  messageType,
  multiaddrValue,
  peerIdValue,
  pieceIndexesValue,
  stringValue,
  uintValue,
} from './validate.ts';

/** Daemon ↔ scheduler: one short stream per request, one request frame and one response frame. */
export const SCHED_PROTOCOL = '/flotilla/sched/1.0.0';
/** TaskMeta can carry thousands of piece digests (8192 × sha512 ≈ 1.2 MB). */
export const MAX_SCHED_FRAME = 4 * 1024 * 1024;

export const LIMITS = {
  addresses: 32,
  parents: 64,
  exclude: 1024,
  failed: 1024,
  zone: 128,
  authorization: 16 * 1024,
  text: 1024,
  uploadSlots: 65_535,
  ttlMs: 24 * 60 * 60 * 1000,
  /** Blobs per `holding` message (a daemon with more sends several). */
  held: 1024,
  /** Peer ids in a `swarm` list (a bigger swarm is cut to its first members, the same cut for every child). */
  swarm: 256,
} as const;

export interface Parent {
  peerId: string;
  addresses: string[];
}

export interface TaskMeta {
  digest: string;
  size: number;
  pieceLength: number;
  pieceCount: number;
  /** One per piece; null while not yet known (the seed is still fetching that piece). */
  pieceDigests: (string | null)[];
}

export interface PieceFailure {
  index: number;
  /** The parent the piece failed from. */
  peer: string;
  reason: string;
}

/** A blob a daemon holds completely, as it reports it to a scheduler that (re)registered it. */
export interface HeldBlob {
  digest: string;
  size: number;
  /** The scheduler-signed meta, when the daemon has it: the scheduler can hand the blob out without seeding it. */
  signed?: SignedTaskMeta;
}

export type SchedRequest =
  | { type: 'register'; addresses: string[]; zone?: string; uploadSlots: number; uploadRate?: number }
  | { type: 'task'; digest: string; registry: string; repository: string; authorization?: string }
  | { type: 'report'; digest: string; finished: number[]; failed: PieceFailure[] }
  | { type: 'reschedule'; digest: string; exclude: string[] }
  | { type: 'leave' }
  /** What the daemon holds (added after 1.0.0; sent after registering, so a restarted scheduler is not back to zero). */
  | { type: 'holding'; blobs: HeldBlob[] };

export type RegisteredResponse = { type: 'registered'; ttlMs: number };
export type TaskAssignedResponse = {
  type: 'task-assigned';
  meta: TaskMeta;
  parents: Parent[];
  /** The scheduler's signature over the meta, once every piece digest is known (daemons pass it on). */
  signature?: MetaSignature;
  /** The seed's unfinished children (see SwarmList); added after 1.0.0, absent from older schedulers. */
  swarm?: string[];
};

/**
 * `swarm`: the peer ids of the daemons that fetch this blob from the seed and have not finished it, at most
 * LIMITS.swarm, in the same order for everyone. Children rank this one set to agree on which of them takes each
 * fresh piece from the seed, so a piece leaves the seed about once and spreads from daemon to daemon.
 */
export type SwarmList = string[];
export type BackToSourceResponse = { type: 'back-to-source'; reason: string };
export type ReportAckResponse = {
  type: 'report-ack';
  /** Piece digests that became known since the last report, for pieces from, from+1, ... */
  pieceDigests?: { from: number; digests: string[] };
  parents?: Parent[];
  /** The signature over the complete meta, sent once when the last digest became known. */
  signature?: MetaSignature;
  /** The seed's unfinished children, when they changed since this child was last told (see SwarmList). */
  swarm?: SwarmList;
};
export type OkResponse = { type: 'ok' };
export type SchedErrorResponse = { type: 'error'; code: string; message: string };

export type SchedResponse =
  | RegisteredResponse
  | TaskAssignedResponse
  | BackToSourceResponse
  | ReportAckResponse
  | OkResponse
  | SchedErrorResponse;

/** The responses each request may get. */
export interface SchedResponseMap {
  register: RegisteredResponse | SchedErrorResponse;
  task: TaskAssignedResponse | BackToSourceResponse | SchedErrorResponse;
  report: ReportAckResponse | SchedErrorResponse;
  reschedule: TaskAssignedResponse | BackToSourceResponse | SchedErrorResponse;
  leave: OkResponse | SchedErrorResponse;
  holding: OkResponse | SchedErrorResponse;
}
export type SchedResponseFor<R extends SchedRequest> = SchedResponseMap[R['type']];

export const SCHED_REPLIES: { readonly [K in SchedRequest['type']]: readonly SchedResponseMap[K]['type'][] } = {
  register: ['registered', 'error'],
  task: ['task-assigned', 'back-to-source', 'error'],
  report: ['report-ack', 'error'],
  reschedule: ['task-assigned', 'back-to-source', 'error'],
  leave: ['ok', 'error'],
  holding: ['ok', 'error'],
};

const REQUEST_TYPES = ['register', 'task', 'report', 'reschedule', 'leave', 'holding'] as const;
const RESPONSE_TYPES = ['registered', 'task-assigned', 'back-to-source', 'report-ack', 'ok', 'error'] as const;
/** host, host:port or [ipv6]:port */
const REGISTRY = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const ERROR_CODE = /^[a-z][a-z0-9-]{0,63}$/;

export interface SchedRequestContext {
  /** The piece count of a task the scheduler knows, to check report indexes against; else MAX_PIECE_COUNT. */
  pieceCount?: (digest: string) => number | undefined;
}

export function parseSchedRequest(bytes: Uint8Array, context: SchedRequestContext = {}): SchedRequest {
  const f = new Fields(decodeJson(bytes), 'request');
  const type = messageType(f, REQUEST_TYPES);
  switch (type) {
    case 'register': {
      const zone = f.optional('zone', (v, p) => stringValue(v, p, LIMITS.zone));
      const uploadRate = f.optional('uploadRate', (v, p) => uintValue(v, p));
      return {
        type,
        addresses: addressesOf(f),
        uploadSlots: f.uint('uploadSlots', LIMITS.uploadSlots),
        ...(zone === undefined ? {} : { zone }),
        ...(uploadRate === undefined ? {} : { uploadRate }),
      };
    }
    case 'task': {
      const repository = f.string('repository', MAX_NAME_LENGTH);
      if (!isValidRepositoryName(repository)) throw new WireError(`${f.at('repository')} is not a valid repository name`);
      const registry = f.string('registry', 255);
      if (!REGISTRY.test(registry)) throw new WireError(`${f.at('registry')} is not a host[:port]`);
      const authorization = f.optional('authorization', (v, p) => stringValue(v, p, LIMITS.authorization));
      return { type, digest: f.digest('digest'), registry, repository, ...(authorization === undefined ? {} : { authorization }) };
    }
    case 'report': {
      const digest = f.digest('digest');
      const pieceCount = context.pieceCount?.(digest) ?? MAX_PIECE_COUNT;
      return {
        type,
        digest,
        finished: f.required('finished', (v, p) => pieceIndexesValue(v, p, pieceCount)),
        failed: f.required('failed', (v, p) => arrayValue(v, p, LIMITS.failed, (item, ip) => failureOf(item, ip, pieceCount))),
      };
    }
    case 'reschedule':
      return {
        type,
        digest: f.digest('digest'),
        exclude: f.required('exclude', (v, p) => arrayValue(v, p, LIMITS.exclude, peerIdValue)),
      };
    case 'leave':
      return { type };
    case 'holding':
      return { type, blobs: f.required('blobs', (v, p) => arrayValue(v, p, LIMITS.held, heldBlobOf)) };
  }
}

export interface SchedResponseContext {
  /** The task's piece count, to check report-ack digests against. */
  pieceCount?: number;
}

export function parseSchedResponse(bytes: Uint8Array, context: SchedResponseContext = {}): SchedResponse {
  const f = new Fields(decodeJson(bytes), 'response');
  const type = messageType(f, RESPONSE_TYPES);
  switch (type) {
    case 'registered':
      return { type, ttlMs: f.uint('ttlMs', LIMITS.ttlMs) };
    case 'task-assigned': {
      const signature = f.optional('signature', metaSignatureOf);
      const swarm = f.optional('swarm', swarmOf);
      return {
        type,
        meta: f.required('meta', taskMetaOf),
        parents: parentsOf(f),
        ...(signature === undefined ? {} : { signature }),
        ...(swarm === undefined ? {} : { swarm }),
      };
    }
    case 'back-to-source':
      return { type, reason: f.string('reason', LIMITS.text) };
    case 'report-ack': {
      const pieceDigests = f.optional('pieceDigests', (v, p) => pieceDigestsOf(v, p, context.pieceCount ?? MAX_PIECE_COUNT));
      const parents = f.has('parents') ? parentsOf(f) : undefined;
      const signature = f.optional('signature', metaSignatureOf);
      const swarm = f.optional('swarm', swarmOf);
      return {
        type,
        ...(pieceDigests === undefined ? {} : { pieceDigests }),
        ...(parents === undefined ? {} : { parents }),
        ...(signature === undefined ? {} : { signature }),
        ...(swarm === undefined ? {} : { swarm }),
      };
    }
    case 'ok':
      return { type };
    case 'error': {
      const code = f.string('code', 64);
      if (!ERROR_CODE.test(code)) throw new WireError(`${f.at('code')} must match ${ERROR_CODE}`);
      return { type, code, message: f.string('message', LIMITS.text) };
    }
  }
}

function addressesOf(f: Fields): string[] {
  return f.required('addresses', (v, p) => arrayValue(v, p, LIMITS.addresses, multiaddrValue));
}

function swarmOf(value: unknown, path: string): SwarmList {
  return arrayValue(value, path, LIMITS.swarm, peerIdValue);
}

function parentsOf(f: Fields): Parent[] {
  return f.required('parents', (v, p) =>
    arrayValue(v, p, LIMITS.parents, (item, ip) => {
      const parent = new Fields(item, ip);
      return { peerId: parent.required('peerId', peerIdValue), addresses: addressesOf(parent) };
    }),
  );
}

function heldBlobOf(value: unknown, path: string): HeldBlob {
  const f = new Fields(value, path);
  const digest = f.digest('digest');
  const size = f.uint('size', MAX_BLOB_SIZE);
  let signed: SignedTaskMeta | undefined;
  if (f.has('signed')) {
    const s = f.object('signed');
    const meta = s.required('meta', taskMetaOf);
    if (meta.digest !== digest || meta.size !== size || !isCompleteMeta(meta)) throw new WireError(`${s.at('meta')} is not the complete meta of ${digest}`);
    signed = { meta, signature: s.required('signature', metaSignatureOf) };
  }
  return { digest, size, ...(signed === undefined ? {} : { signed }) };
}

function failureOf(value: unknown, path: string, pieceCount: number): PieceFailure {
  const f = new Fields(value, path);
  return { index: f.uint('index', pieceCount - 1), peer: f.required('peer', peerIdValue), reason: f.string('reason', LIMITS.text) };
}

export function taskMetaOf(value: unknown, path: string): TaskMeta {
  const f = new Fields(value, path);
  const size = f.uint('size', MAX_BLOB_SIZE);
  const pieceLength = f.uint('pieceLength', MAX_PIECE_LENGTH);
  if (pieceLength === 0) throw new WireError(`${f.at('pieceLength')} must be positive`);
  const pieceCount = f.uint('pieceCount', MAX_PIECE_COUNT);
  if (pieceCount !== pieceCountFor(size, pieceLength)) {
    throw new WireError(`${f.at('pieceCount')} ${pieceCount} does not match size ${size} / pieceLength ${pieceLength}`);
  }
  const pieceDigests = f.required('pieceDigests', (v, p) =>
    arrayValue(v, p, pieceCount, (item, ip) => (item === null ? null : digestValue(item, ip))),
  );
  if (pieceDigests.length !== pieceCount) throw new WireError(`${f.at('pieceDigests')} must have ${pieceCount} entries`);
  return { digest: f.digest('digest'), size, pieceLength, pieceCount, pieceDigests };
}

function pieceDigestsOf(value: unknown, path: string, pieceCount: number): { from: number; digests: string[] } {
  const f = new Fields(value, path);
  const from = f.uint('from', pieceCount);
  const digests = f.required('digests', (v, p) => arrayValue(v, p, pieceCount - from, digestValue));
  return { from, digests };
}
