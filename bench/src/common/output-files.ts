import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes each named file into `dir` (created if missing); returns their paths in order. */
export async function writeOutputFiles(dir: string, files: Record<string, string>): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths = Object.keys(files).map((name) => join(dir, name));
  await Promise.all(Object.values(files).map((content, i) => writeFile(paths[i]!, content)));
  return paths;
}
