import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startService, stopAllServices } from '@flotilla/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(REPO, 'packages/cli/src/main.ts');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `flotilla ARGS` on the Node that runs the tests (the pinned one). */
const flotilla = (args: string[], env?: NodeJS.ProcessEnv) => run(process.execPath, [MAIN, ...args], env);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-cli-'));
});
afterAll(async () => {
  await stopAllServices();
  await rm(dir, { recursive: true, force: true });
});

describe('flotilla CLI', () => {
  it('npx flotilla --help lists the commands', async () => {
    const { code, stdout } = await run('npx', ['flotilla', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: flotilla <command> \[options\]\n/);
    expect(stdout).toMatch(/^ {2}daemon {6}Runs the node daemon/m);
  });

  it('prints the version', async () => {
    const { version } = JSON.parse(await readFile(join(REPO, 'packages/cli/package.json'), 'utf8')) as { version: string };
    expect(await flotilla(['--version'])).toEqual({ code: 0, stdout: `flotilla ${version}\n`, stderr: '' });
  });

  it('flotilla daemon --help documents every option with its env var and default', async () => {
    const { code, stdout } = await flotilla(['daemon', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: flotilla daemon \[options\]/);
    expect(stdout).toContain('  --mirror-listen HOST:PORT\n      address of the OCI registry mirror\n      env FLOTILLA_MIRROR_LISTEN; default 127.0.0.1:65001\n');
    for (const flag of ['--data-dir', '--insecure-registry', '--registry-alias', '--allow-registry', '--default-registry', '--docker-config', '--log-level', '--config']) {
      expect(stdout).toContain(`  ${flag} `);
    }
    expect(stdout).toContain('  registries: ');
  });

  it('rejects a bad flag with the named error on stderr and exit code 2', async () => {
    const { code, stdout, stderr } = await flotilla(['daemon', '--mirorr-listen', '127.0.0.1:1']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      "flotilla daemon: unknown flag --mirorr-listen (did you mean --mirror-listen?)\nRun 'flotilla daemon --help' for the options.\n",
    );
  });

  it('rejects bad values from env and config file with exit code 2 and no stack trace', async () => {
    const fromEnv = await flotilla(['daemon'], { FLOTILLA_MIRROR_LISTEN: 'abc' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/^flotilla daemon: invalid value for FLOTILLA_MIRROR_LISTEN: "abc" \(expected HOST:PORT\)\n/);
    const file = join(dir, 'bad.yml');
    await writeFile(file, 'mirror-listen: 127.0.0.1:1\nlog-levle: debug\n');
    const fromFile = await flotilla(['daemon', '--config', file]);
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toMatch(/^flotilla daemon: config file .*bad\.yml: unknown key "log-levle" \(did you mean "log-level"\?\)\n/);
    expect(fromFile.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects an unknown command and a missing command with exit code 2', async () => {
    const unknown = await flotilla(['deamon']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^flotilla: unknown command 'deamon' \(did you mean 'daemon'\?\)\n/);
    const none = await flotilla([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^Usage: flotilla <command>/);
  });

  it('runs the daemon until SIGTERM or SIGINT and exits 0', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const dataDir = join(dir, `data-${signal}`);
      const { service, match } = await startService(process.execPath, [MAIN, 'daemon', '--mirror-listen', '127.0.0.1:0', '--data-dir', dataDir], {
        ready: /"address":"127\.0\.0\.1:(\d+)".*"msg":"mirror listening"/,
      });
      const port = Number(match?.[1]);
      const ping = await fetch(`http://127.0.0.1:${port}/v2/`);
      expect(ping.status).toBe(200);
      const exited = new Promise<number | null>((resolve) => service.child.once('exit', (code) => resolve(code)));
      service.child.kill(signal);
      expect(await exited).toBe(0);
      expect(service.output()).toContain('"msg":"daemon stopped"');
    }
  });

  describe('startup failures exit 1 with one clear line', () => {
    let busy: Server;
    beforeAll(async () => {
      busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    });
    afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

    it('port in use', async () => {
      const { port } = busy.address() as { port: number };
      const { code, stderr } = await flotilla(['daemon', '--mirror-listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'busy')]);
      expect(code).toBe(1);
      expect(stderr).toBe(
        `flotilla daemon: cannot start: listen EADDRINUSE: address already in use 127.0.0.1:${port} (already running? pick a free --mirror-listen / --p2p-listen address)\n`,
      );
    });

    it('data dir that cannot be created', async () => {
      const file = join(dir, 'not-a-dir');
      await writeFile(file, '');
      const { code, stderr } = await flotilla(['daemon', '--mirror-listen', '127.0.0.1:0', '--data-dir', join(file, 'data')]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/^flotilla daemon: cannot start: ENOTDIR: .*not-a-dir\/data.* \(check --data-dir\)\n$/);
    });
  });

  it('README options table matches the daemon schema', async () => {
    const { code, stdout } = await run(process.execPath, [join(REPO, 'packages/cli/src/print-options-table.ts'), 'daemon']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^\| Option \| Env var \| Default \| Description \|\n/);
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    expect(readme, 'regenerate with: npx node packages/cli/src/print-options-table.ts daemon').toContain(stdout);
  });
});
