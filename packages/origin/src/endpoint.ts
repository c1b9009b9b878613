/** Docker Hub's logical name differs from the host that serves its /v2/ API. */
const API_HOSTS: Record<string, string> = { 'docker.io': 'registry-1.docker.io' };

/** Base URL of a registry's /v2/ API, e.g. "https://registry-1.docker.io" or "http://127.0.0.1:5000". */
export function registryEndpoint(registry: string, insecure: boolean): string {
  return `${insecure ? 'http' : 'https'}://${API_HOSTS[registry] ?? registry}`;
}
