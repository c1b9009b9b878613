export * from './client.ts';
export * from './endpoint.ts';
export * from './errors.ts';
export { readDockerConfigCredentials, type Credentials } from './docker-config.ts';
