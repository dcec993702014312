// The packages as a user gets them: `npm pack` of each workspace package,
// installed from the tarballs into a directory outside the repository. The
// installed `pop3d` serves, the installed `pop3ctl` talks to it, and a Pulumi
// program that requires the installed provider applies through the real CLI.
// The tarballs hold what runs (build output, bins, the systemd unit, README,
// license) and no tests, fuzz or soak.
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PulumiProject, PulumiWorld, REPO_ROOT, firstLine, freePort, removeDir } from './support';

/** The workspace packages a user installs: examples are programs to copy, and private ones (the test kit) are never packed. */
async function publishedWorkspaces(): Promise<string[]> {
  const root = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  const published: string[] = [];
  for (const workspace of root.workspaces.filter((w) => !w.startsWith('examples'))) {
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, workspace, 'package.json'), 'utf8')) as {
      private?: boolean;
    };
    if (manifest.private !== true) published.push(workspace);
  }
  return published;
}

describe('installed from npm pack tarballs, outside the repository', () => {
  let dir: string;
  let tarballs: Record<string, string>;
  let installDir: string;

  before(async () => {
    const { execa } = await import('execa');
    dir = await mkdtemp(join(tmpdir(), 'pop3-packages-'));
    tarballs = {};
    for (const workspace of await publishedWorkspaces()) {
      const { stdout } = await execa('npm', ['pack', '--json', '--pack-destination', dir], {
        cwd: join(REPO_ROOT, workspace),
      });
      const [packed] = JSON.parse(stdout) as Array<{ name: string; filename: string }>;
      tarballs[packed!.name] = join(dir, packed!.filename);
    }
    installDir = join(dir, 'site');
    await mkdir(installDir);
    const dependencies = Object.fromEntries(Object.entries(tarballs).map(([name, file]) => [name, `file:${file}`]));
    await writeFile(
      join(installDir, 'package.json'),
      `${JSON.stringify({ name: 'mail-site', private: true, main: 'index.js', dependencies }, null, 2)}\n`,
    );
    // --prefer-offline: the repository's own install has already cached every registry package.
    await execa('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
      cwd: installDir,
      timeout: 300_000,
    });
  });

  after(async () => {
    if (dir !== undefined) await removeDir(dir);
  });

  it('each tarball holds its README, license and build output, and no test, fuzz or soak file', async () => {
    const { execa } = await import('execa');
    for (const [name, file] of Object.entries(tarballs)) {
      const files = (await execa('tar', ['-tzf', file])).stdout.split('\n');
      assert.ok(files.includes('package/README.md'), `${name} has no README`);
      assert.ok(files.includes('package/LICENSE'), `${name} has no LICENSE`);
      assert.ok(
        files.some((f) => f.startsWith('package/dist/src/')),
        `${name} has no build output`,
      );
      const unwanted = files.filter((f) => /(^|\/)(test|fuzz|soak)\/|\.test\.|tsbuildinfo$|\/src\/.*\.ts$/.test(f));
      assert.deepEqual(
        unwanted.filter((f) => !f.endsWith('.d.ts')),
        [],
        `${name} ships files that do not run`,
      );
    }
    const runtime = (await execa('tar', ['-tzf', tarballs['@pop3-iac/runtime']!])).stdout.split('\n');
    for (const shipped of ['package/bin/pop3d.js', 'package/bin/pop3ctl.js', 'package/systemd/pop3d.service']) {
      assert.ok(runtime.includes(shipped), `the runtime tarball lacks ${shipped}`);
    }
  });

  it('npx pop3d serves POP3, npx pop3ctl reads it, and a Pulumi program with the installed provider applies', async () => {
    const { execa } = await import('execa');
    const [port, newPort, world] = await Promise.all([freePort(), freePort(), PulumiWorld.create()]);
    const daemonDir = join(dir, 'daemon');
    await mkdir(join(daemonDir, 'mail', 'alice', 'Maildir', 'new'), { recursive: true });
    await writeFile(join(daemonDir, 'users'), 'alice:{PLAIN}secret\n', { mode: 0o600 });
    await writeFile(join(daemonDir, 'pop3d.json'), JSON.stringify({ binds: `127.0.0.1 ${port}` }));
    const socket = join(daemonDir, 'admin.sock');
    const daemon = execa(
      'npx',
      [
        'pop3d',
        '--config',
        join(daemonDir, 'pop3d.json'),
        '--users',
        join(daemonDir, 'users'),
        '--maildir-root',
        join(daemonDir, 'mail'),
        '--state-dir',
        join(daemonDir, 'state'),
        '--admin-socket',
        socket,
      ],
      { cwd: installDir, reject: false, buffer: false, stdin: 'ignore', detached: true },
    );
    let output = '';
    daemon.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    daemon.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      for (let i = 0; !output.includes('"pop3d.ready"'); i += 1) {
        if (i > 300 || daemon.exitCode !== null) throw new Error(`the installed pop3d did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // The process serving is the installed copy, not the repository's.
      const ready = output
        .split('\n')
        .filter((line) => line.includes('"pop3d.ready"'))
        .map((line) => JSON.parse(line) as { pid: number })[0]!;
      const cmdline = (await readFile(`/proc/${ready.pid}/cmdline`, 'utf8')).split('\0').join(' ');
      assert.ok(cmdline.includes(join(installDir, 'node_modules')), cmdline);
      assert.match(await firstLine('127.0.0.1', port), /^\+OK/);

      const status = await execa('npx', ['pop3ctl', '--socket', socket, '--json', 'status'], { cwd: installDir });
      assert.equal((JSON.parse(status.stdout) as { listeners: unknown[] }).listeners.length, 1);

      // A JavaScript program, as a user without a TypeScript toolchain writes one.
      await writeFile(join(installDir, 'Pulumi.yaml'), 'name: mail-site\nruntime: nodejs\n');
      await writeFile(
        join(installDir, 'index.js'),
        [
          "const { Pop3Service } = require('@pop3-iac/provider');",
          `const service = new Pop3Service('pop3', { adminSocket: ${JSON.stringify(socket)}, binds: '127.0.0.1 ${newPort}' });`,
          'exports.listeners = service.listeners;',
          '',
        ].join('\n'),
      );
      const project = new PulumiProject(world, installDir);
      await project.ok(['stack', 'init', 'dev']);
      await project.ok(['up', '--yes', '--non-interactive']);
      assert.match(await firstLine('127.0.0.1', newPort), /^\+OK/);
      assert.equal(await firstLine('127.0.0.1', port), 'refused');
      await project.ok(['destroy', '--yes', '--non-interactive']);
      assert.equal(await firstLine('127.0.0.1', newPort), 'refused');
    } finally {
      // npx runs pop3d as its grandchild: signal the whole process group (detached: its own).
      process.kill(-daemon.pid!, 'SIGTERM');
      await daemon;
      await removeDir(world.root);
    }
  });
});
