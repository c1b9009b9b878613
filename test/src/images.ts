import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, constants as zlib } from 'node:zlib';
import { digestOf, MediaType } from '@flotilla/oci';
import { skopeoCopy } from './skopeo.ts';

/** One piece of content addressed by digest, as a descriptor names it. */
export interface BlobInfo {
  digest: string;
  size: number;
  mediaType: string;
}

export interface Platform {
  os: string;
  architecture: string;
}

/** One image manifest written to a layout, with the blobs it references. */
export interface ImageManifestInfo extends BlobInfo {
  config: BlobInfo;
  layers: BlobInfo[];
  platform: Platform;
}

/** A test image in an OCI image layout directory; `ref` is the skopeo source (`oci:DIR:TAG`). */
export interface TestImage {
  layoutDir: string;
  tag: string;
  ref: string;
  manifestDigest: string;
  mediaType: string;
  /** The image manifests: the image itself, or every platform's manifest of an index. */
  manifests: ImageManifestInfo[];
  /** Every blob a full pull fetches from /blobs/ (configs and layers of all manifests). */
  blobs: BlobInfo[];
}

/** A single-platform image; `layers` and `configDigest` are its manifest's. */
export interface SingleImage extends TestImage {
  configDigest: string;
  layers: BlobInfo[];
}

export interface BuildImageOptions {
  /** Size in bytes of the random file inside each layer; layers are incompressible so blob sizes are real. */
  layers: number[];
  /** Directory to create the OCI layout in. */
  dir: string;
  tag?: string;
}

export interface BuildIndexOptions extends BuildImageOptions {
  /** One image manifest (with its own random layers) per platform. */
  platforms: Platform[];
}

const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** Builds a single-platform OCI image (random layers, config, manifest) in an OCI layout. */
export async function buildImage(options: BuildImageOptions): Promise<SingleImage> {
  const tag = options.tag ?? 'v1';
  const manifest = await writeImageManifest(options.dir, options.layers, DEFAULT_PLATFORM);
  await writeLayoutIndex(options.dir, manifest, tag);
  return {
    ...layoutImage(options.dir, tag, manifest, [manifest]),
    configDigest: manifest.config.digest,
    layers: manifest.layers,
  };
}

/** Builds a multi-platform OCI image index whose platforms each get their own random layers. */
export async function buildIndex(options: BuildIndexOptions): Promise<TestImage> {
  const tag = options.tag ?? 'v1';
  const manifests: ImageManifestInfo[] = [];
  for (const platform of options.platforms) manifests.push(await writeImageManifest(options.dir, options.layers, platform));
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: manifests.map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size, platform: m.platform })),
  };
  const indexBlob = await writeJsonBlob(options.dir, index, MediaType.ociIndex);
  await writeLayoutIndex(options.dir, indexBlob, tag);
  return layoutImage(options.dir, tag, indexBlob, manifests);
}

/** Reads a blob (or manifest) back from the image's layout, to compare with what a client received. */
export function readLayoutBlob(image: TestImage, digest: string): Promise<Buffer> {
  return readFile(blobPath(image.layoutDir, digest));
}

export interface PushOptions {
  /** Manifest type at the registry; `v2s2` converts to a docker schema2 image (new manifest digest, same blobs). */
  format?: 'oci' | 'v2s2';
  /** Push every platform of an index (default: true for an index, so the pushed digest stays the index's). */
  all?: boolean;
  /** `user:password` for the registry. */
  creds?: string;
}

/** Where an image was pushed and the digest of its manifest there. */
export interface PushedImage {
  /** `host/repo:tag`, the name a client pulls. */
  name: string;
  repository: string;
  tag: string;
  manifestDigest: string;
}

/** Pushes a layout image with `skopeo copy` over plain HTTP to `registryHost/repoTag`. */
export async function pushImage(
  image: TestImage,
  registryHost: string,
  repoTag: string,
  options: PushOptions = {},
): Promise<PushedImage> {
  const [repository, tag] = repoTag.split(':');
  if (!repository || !tag) throw new Error(`expected repo:tag, got ${repoTag}`);
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-push-'));
  try {
    const digestFile = join(dir, 'digest');
    const result = await skopeoCopy(image.ref, `docker://${registryHost}/${repoTag}`, {
      digestFile,
      all: options.all ?? image.mediaType === MediaType.ociIndex,
      ...(options.format ? { format: options.format } : {}),
      ...(options.creds ? { destCreds: options.creds } : {}),
    });
    if (result.code !== 0) throw new Error(`pushing ${image.ref} to ${registryHost}/${repoTag} failed:\n${result.stderr}`);
    const manifestDigest = (await readFile(digestFile, 'utf8')).trim();
    return { name: `${registryHost}/${repoTag}`, repository, tag, manifestDigest };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function layoutImage(dir: string, tag: string, top: BlobInfo, manifests: ImageManifestInfo[]): TestImage {
  return {
    layoutDir: dir,
    tag,
    ref: `oci:${dir}:${tag}`,
    manifestDigest: top.digest,
    mediaType: top.mediaType,
    manifests,
    blobs: manifests.flatMap((m) => [m.config, ...m.layers]),
  };
}

async function writeImageManifest(dir: string, layerSizes: number[], platform: Platform): Promise<ImageManifestInfo> {
  const layers: BlobInfo[] = [];
  const diffIds: string[] = [];
  for (const size of layerSizes) {
    const tar = tarOfOneFile('data.bin', randomBytes(size));
    diffIds.push(digestOf(tar));
    // Random bytes do not compress, so store them (level 0) and keep building fast; it is still valid gzip.
    layers.push(await writeBlob(dir, gzipSync(tar, { level: zlib.Z_NO_COMPRESSION }), MediaType.ociLayerGzip));
  }
  const config = {
    created: new Date().toISOString(),
    ...platform,
    config: {},
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  const configBlob = await writeJsonBlob(dir, config, MediaType.ociConfig);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: configBlob.mediaType, digest: configBlob.digest, size: configBlob.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBlob = await writeJsonBlob(dir, manifest, MediaType.ociManifest);
  return { ...manifestBlob, config: configBlob, layers, platform };
}

/** Writes `oci-layout` and an `index.json` naming the top manifest with the tag. */
async function writeLayoutIndex(dir: string, top: BlobInfo, tag: string): Promise<void> {
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = {
    schemaVersion: 2,
    manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
}

function writeJsonBlob(dir: string, value: unknown, mediaType: string): Promise<BlobInfo> {
  return writeBlob(dir, Buffer.from(JSON.stringify(value)), mediaType);
}

async function writeBlob(dir: string, bytes: Buffer, mediaType: string): Promise<BlobInfo> {
  const digest = digestOf(bytes);
  const path = blobPath(dir, digest);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, bytes);
  return { digest, size: bytes.length, mediaType };
}

function blobPath(dir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  if (!algorithm || !hex) throw new Error(`not a digest: ${digest}`);
  return join(dir, 'blobs', algorithm, hex);
}

const TAR_BLOCK = 512;

/** A ustar archive holding one regular file (the minimum a layer needs; no tar dependency). */
function tarOfOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(TAR_BLOCK);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  const octal = (offset: number, length: number, value: number) =>
    field(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
  field(0, 100, name);
  octal(100, 8, 0o644); // mode
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, content.length);
  octal(136, 12, Math.floor(Date.now() / 1000));
  field(148, 8, ' '.repeat(8)); // checksum is computed with its own field as spaces
  field(156, 1, '0'); // regular file
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = (TAR_BLOCK - (content.length % TAR_BLOCK)) % TAR_BLOCK;
  return Buffer.concat([header, content, Buffer.alloc(padding), Buffer.alloc(2 * TAR_BLOCK)]);
}
