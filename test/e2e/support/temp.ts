import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temp dir for one test file; `cleanup()` in afterAll. */
export async function tempDir(prefix: string): Promise<{ path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `flotilla-e2e-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}
