import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

/** Messages from the main thread: hash this batch / finish this session. */
export type HashRequest =
  | { kind: 'open'; session: number; algorithm: string }
  | { kind: 'update'; session: number; buffer: ArrayBuffer; length: number }
  /** Bytes in shared memory, hashed in place; answered with `read` once the worker no longer needs them. */
  | { kind: 'update-shared'; session: number; id: number; buffer: SharedArrayBuffer; offset: number; length: number }
  | { kind: 'digest'; session: number }
  | { kind: 'close'; session: number };

/** Replies: a batch buffer handed back for reuse, or a session's hex digest. */
export type HashReply =
  | { kind: 'done'; session: number; buffer: ArrayBuffer }
  | { kind: 'read'; id: number }
  | { kind: 'digest'; session: number; hex: string };

const sessions = new Map<number, Hash>();
const port = parentPort!;

port.on('message', (message: HashRequest) => {
  switch (message.kind) {
    case 'open':
      sessions.set(message.session, createHash(message.algorithm));
      return;
    case 'update':
      sessions.get(message.session)?.update(new Uint8Array(message.buffer, 0, message.length));
      port.postMessage({ kind: 'done', session: message.session, buffer: message.buffer } satisfies HashReply, [message.buffer]);
      return;
    case 'update-shared':
      sessions.get(message.session)?.update(new Uint8Array(message.buffer, message.offset, message.length));
      port.postMessage({ kind: 'read', id: message.id } satisfies HashReply);
      return;
    case 'digest': {
      const hex = sessions.get(message.session)?.digest('hex') ?? '';
      sessions.delete(message.session);
      port.postMessage({ kind: 'digest', session: message.session, hex } satisfies HashReply);
      return;
    }
    case 'close':
      sessions.delete(message.session);
      return;
  }
});
