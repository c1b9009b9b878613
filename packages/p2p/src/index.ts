export * from './node.ts';
export * from './identity.ts';
export * from './swarm-key.ts';
export * from './errors.ts';
export * from './write.ts';
export * from './reader.ts';
export * from './frame.ts';
