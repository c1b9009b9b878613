export * from './process.ts';
export * from './command.ts';
export * from './images.ts';
export * from './skopeo.ts';
export * from './containerd.ts';
export * from './daemon.ts';
export * from './registry.ts';
export * from './token-server.ts';
