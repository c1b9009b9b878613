import { readFile } from 'node:fs/promises';
import { availableParallelism, release, totalmem } from 'node:os';
import { runCommand } from '@flotilla/test';

/** What the numbers were measured on, printed with them. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  dockerRegistry: string;
  curl: string;
  /** The checked-out commit of the daemon under test (with "+dirty" when the tree has changes). */
  commit: string;
}

export async function describeMachine(): Promise<MachineInfo> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
  const [registry, curl, commit, dirty] = await Promise.all([
    firstLine('docker-registry', ['--version']),
    firstLine('curl', ['--version']),
    firstLine('git', ['rev-parse', '--short', 'HEAD']),
    runCommand('git', ['status', '--porcelain', '--untracked-files=no']).then((r) => r.stdout.trim() !== ''),
  ]);
  return {
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    dockerRegistry: registry,
    curl: curl.split(' ').slice(0, 2).join(' '),
    commit: dirty ? `${commit}+dirty` : commit,
  };
}

async function firstLine(command: string, args: string[]): Promise<string> {
  const result = await runCommand(command, args).catch(() => undefined);
  return result?.code === 0 ? (result.stdout.split('\n')[0] ?? '').trim() : 'unknown';
}
