export * from './errors.ts';
export * from './pieces.ts';
export * from './sched-messages.ts';
export * from './piece-messages.ts';
export * from './meta-signature.ts';
export { type CallOptions, type Dialer, isProtocolViolation, type Registrar, type RequestContext, type ServeOptions } from './rpc.ts';
export * from './sched-rpc.ts';
export * from './piece-rpc.ts';
