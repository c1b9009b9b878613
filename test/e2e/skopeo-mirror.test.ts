import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  buildImage,
  pushImage,
  requestLogs,
  skopeoCopy,
  startFlotillaDaemon,
  startRegistry,
  waitFor,
  writeRegistriesConf,
  type FlotillaDaemon,
  type Registry,
  type SingleImage,
} from '@flotilla/test';
import { sha256 } from './support/http.ts';
import { blobGets } from './support/logs.ts';
import { tempDir } from './support/temp.ts';

// Requirement 2: skopeo (no `ns`) reaches the origin through a registries.conf mirror whose path prefix names the
// upstream, either as `127.0.0.1-PORT` or as a `--registry-alias` name.

const ALIAS = 'lab';

let dir: Awaited<ReturnType<typeof tempDir>>;
let registry: Registry;
let daemon: FlotillaDaemon;

beforeAll(async () => {
  dir = await tempDir('skopeo');
  registry = await startRegistry();
  daemon = await startFlotillaDaemon({
    args: ['--insecure-registry', registry.host, '--registry-alias', `${ALIAS}=${registry.host}`],
  });
});

afterAll(async () => {
  await Promise.all([daemon?.stop(), registry?.stop()]);
  await dir?.cleanup();
});

/** Copies `repo:v1` from the origin's name to an oci: dir through the mirror at `prefix`, then checks every blob. */
async function copyThroughMirror(name: string, prefix: string): Promise<void> {
  const image = await buildImage({ layers: [250_000, 150_000], dir: join(dir.path, `${name}-src`) });
  await pushImage(image, registry.host, `app/${name}:v1`);
  const conf = await writeRegistriesConf(join(dir.path, `${name}.conf`), {
    location: registry.host,
    mirror: `${daemon.host}/${prefix}`,
  });
  const out = join(dir.path, `${name}-out`);

  const result = await skopeoCopy(`docker://${registry.host}/app/${name}:v1`, `oci:${out}:v1`, { registriesConf: conf });
  expect(result.code, result.stderr).toBe(0);

  await expectCopied(image, out);
  // The mirror served every blob under the prefix path (skopeo would also succeed by falling back to the origin).
  for (const blob of image.blobs) {
    const lines = await waitFor(() => {
      const gets = blobGets(daemon, blob.digest);
      return gets.length > 0 ? gets : undefined;
    });
    expect(lines.map((l) => [l['path'], l['status']])).toEqual([[`/v2/${prefix}/app/${name}/blobs/${blob.digest}`, 200]]);
  }
  // The manifest came from the mirror too: skopeo picks one source per pull.
  const manifestPath = `/v2/${prefix}/app/${name}/manifests/v1`;
  expect(requestLogs(daemon).filter((l) => l['path'] === manifestPath).map((l) => l['status'])).toContain(200);
}

async function expectCopied(image: SingleImage, out: string): Promise<void> {
  for (const blob of image.blobs) {
    const bytes = await readFile(join(out, 'blobs', 'sha256', blob.digest.slice('sha256:'.length)));
    expect(sha256(bytes)).toBe(blob.digest);
    expect(bytes.length).toBe(blob.size);
  }
}

test('path-prefix mirror named after the origin (127.0.0.1-PORT)', async () => {
  await copyThroughMirror('dashed', registry.host.replace(':', '-'));
});

test('path-prefix mirror named by --registry-alias', async () => {
  await copyThroughMirror('aliased', ALIAS);
});
