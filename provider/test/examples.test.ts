// The examples as their READMEs run them (stack init, config set, up, the
// drift check, destroy), each against its own real pop3d on ports the OS
// picked instead of the demo's fixed ones. The programs are the files in
// examples/, copied next to a link to the repository's node_modules.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { keyFingerprint } from '@pop3-iac/schema';
import {
  PulumiWorld,
  REPO_ROOT,
  Pop3Client,
  firstLine,
  freePort,
  liveListeners,
  makeCertificate,
  removeDir,
  startReadyDaemon,
} from './support';

const UP = ['up', '--yes', '--non-interactive'];
const DRIFT_CHECK = ['refresh', '--preview-only', '--expect-no-changes', '--non-interactive'];
const DESTROY = ['destroy', '--yes', '--non-interactive'];

describe('examples', { concurrency: true }, () => {
  it('basic: one plain listener replaces the demo configuration', async () => {
    const [port, sslPort, world] = await Promise.all([freePort(), freePort(), PulumiWorld.create()]);
    const certificate = makeCertificate();
    // What `npm start` runs: a plain and a POP3S listener, STARTTLS, certificate files.
    const daemon = await startReadyDaemon({
      config: {
        binds: `127.0.0.1 ${port}`,
        ssl: { enabled: true, binds: `127.0.0.1 ${sslPort}` },
        starttls: true,
        tls: { certFile: certificate.certFile, keyFile: certificate.keyFile },
      },
    });
    try {
      const project = await world.project('basic', {}, join(REPO_ROOT, 'examples', 'basic'));
      await project.ok(['stack', 'init', 'dev']);
      await project.setConfig({ adminSocket: daemon.socket, port });
      await project.ok(UP);
      assert.deepEqual(await liveListeners(daemon), [`pop3 127.0.0.1 ${port}`]);
      assert.match(await firstLine('127.0.0.1', port), /^\+OK/);
      assert.equal((await project.run(DRIFT_CHECK)).exitCode, 0);
      await project.ok(DESTROY);
      assert.deepEqual(await liveListeners(daemon), []);
    } finally {
      await daemon.stop();
      await removeDir(daemon.dir);
      await removeDir(world.root);
    }
  });

  it('multi-bind-tls: the seed three binds, POP3S, STARTTLS, permit and deny, key kept secret', async () => {
    const [port, thirdPort, sslPort, world] = await Promise.all([
      freePort('127.0.0.2'),
      freePort('127.0.0.3'),
      freePort('127.0.0.2'),
      PulumiWorld.create(),
    ]);
    const certificate = makeCertificate();
    const daemon = await startReadyDaemon({ config: { binds: `127.0.0.1 ${port}` } });
    try {
      const project = await world.project('multi-bind-tls', {}, join(REPO_ROOT, 'examples', 'multi-bind-tls'));
      await project.ok(['stack', 'init', 'dev']);
      await project.setConfig({
        adminSocket: daemon.socket,
        port,
        thirdPort,
        sslPort,
        certFile: certificate.certFile,
        keyFile: certificate.keyFile,
      });
      await project.ok(UP);
      assert.deepEqual(await liveListeners(daemon), [
        `pop3 127.0.0.1 ${port}`,
        `pop3 127.0.0.2 ${port}`,
        `pop3 127.0.0.3 ${thirdPort}`,
        `pop3s 127.0.0.1 ${sslPort}`,
        `pop3s 127.0.0.2 ${sslPort}`,
      ]);
      assert.match(await firstLine('127.0.0.3', thirdPort), /^\+OK/);
      assert.match(await firstLine('127.0.0.2', sslPort, undefined, true), /^\+OK/);
      assert.doesNotMatch(await firstLine('127.0.0.1', port, '127.0.0.66'), /^\+OK/, 'deny 127.0.0.66');
      const wire = await Pop3Client.open({ host: '127.0.0.2', port });
      try {
        await wire.line();
        assert.ok((await wire.multi('CAPA')).lines.includes('STLS'));
      } finally {
        wire.close();
      }
      const outputs = JSON.parse((await project.ok(['stack', 'output', '--json'])).stdout) as Record<string, unknown>;
      assert.equal(outputs.keyFingerprint, keyFingerprint(certificate.keyPem));
      assert.doesNotMatch((await project.ok(['stack', 'export'])).stdout, /PRIVATE KEY/);
      assert.equal((await project.run(DRIFT_CHECK)).exitCode, 0);
      await project.ok(DESTROY);
      assert.deepEqual(await liveListeners(daemon), []);
      for (const entry of world.transcript) assert.doesNotMatch(entry, /PRIVATE KEY/, entry.split('\n')[0]);
    } finally {
      await daemon.stop();
      await removeDir(daemon.dir);
      await removeDir(world.root);
    }
  });

  it("fleet: the README's lab, run as written (three namespace hosts, mutual TLS and SSH)", async () => {
    const world = await PulumiWorld.create();
    try {
      const project = await world.project('fleet', {}, join(REPO_ROOT, 'examples', 'fleet'));
      const readme = await readFile(join(REPO_ROOT, 'examples', 'fleet', 'README.md'), 'utf8');
      const block = /## Try it on one machine[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1];
      assert.ok(block, 'the README has the lab block');
      // The block as written; around it only what makes a failed run leave nothing behind.
      const script = [
        'set -euo pipefail',
        'trap \'[ -f "${LAB:-/nonexistent}/lab.env" ] && ./lab.sh down "$LAB"\' EXIT',
        block,
      ].join('\n');
      const { stdout, stderr } = await promisify(execFile)('bash', ['-c', script], {
        cwd: project.dir,
        env: { ...process.env, ...world.env },
        maxBuffer: 64 * 1024 * 1024,
      });
      const output = `${stdout}\n${stderr}`;
      assert.match(output, /\+ 4 to create/, output);
      // curl's LIST on mail1: alice's one message.
      assert.match(stdout, /^1 \d+\r?$/m, output);
      assert.match(output, /3 updated/, output);
      // The read-only drift check: both mutual-TLS hosts run what Pulumi applied.
      assert.match(stdout, /^mail1: as applied/m, output);
      assert.match(stdout, /^mail2: as applied/m, output);
      assert.doesNotMatch(output, /PRIVATE KEY/);
      assert.match(output, /removed the lab of 198\.18\.\d+\.0\/24/, output);
    } finally {
      await removeDir(world.root);
    }
  });
});
