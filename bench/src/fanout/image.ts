import { pushRandomImage, type Registry } from '@flotilla/test';

export const REPOSITORY = 'bench/fanout';
export const TAG = 'v1';

export interface BenchBlob {
  digest: string;
  size: number;
  kind: 'config' | 'layer';
}

/** The image every node pulls: what a client must receive, with the digests it checks. */
export interface BenchImage {
  repository: string;
  tag: string;
  manifestDigest: string;
  manifestSize: number;
  /** Config first, then the layers. */
  blobs: BenchBlob[];
  /** S: the bytes of every blob, what each node must receive through its link. */
  bytes: number;
}

/** Pushes an image with random (incompressible) layers of the given sizes to the origin. */
export async function pushBenchImage(origin: Registry, layerSizes: number[]): Promise<BenchImage> {
  const pushed = await pushRandomImage(origin, REPOSITORY, TAG, { layerSizes });
  const blobs: BenchBlob[] = [
    { digest: pushed.config.digest, size: pushed.config.bytes.length, kind: 'config' },
    ...pushed.layers.map((layer) => ({ digest: layer.digest, size: layer.bytes.length, kind: 'layer' as const })),
  ];
  return {
    repository: REPOSITORY,
    tag: TAG,
    manifestDigest: pushed.manifestDigest,
    manifestSize: pushed.manifest.length,
    blobs,
    bytes: blobs.reduce((sum, blob) => sum + blob.size, 0),
  };
}
