// End to end, as an operator runs it: the real `pulumi` CLI (local file
// backend, offline) drives Pop3Service against a real pop3d. One stack goes
// through the whole life cycle; each step is one of provider/README.md's "What
// each step does". Programs are generated TypeScript, type-checked by Pulumi's
// ts-node.
import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  POP3CTL_BIN,
  PulumiWorld,
  firstLine,
  freePort,
  holdPort,
  liveConfig,
  liveListeners,
  login,
  makeCertificate,
  release,
  removeDaemon,
  removeDir,
  startAliceDaemon,
  type Daemon,
  type PulumiProject,
  type TestCertificate,
} from './support';

/** The fields of one program, written out as TypeScript; `tls` is the stack's certificate unless given. */
type ProgramFields = Record<string, unknown> & { tls?: 'inline' | 'none' | 'files-and-inline' };

function program(fields: ProgramFields): string {
  const { tls = 'inline', ...rest } = fields;
  const lines = Object.entries(rest).map(([key, value]) => `  ${key}: ${JSON.stringify(value)},`);
  if (tls === 'inline')
    lines.push(`  tls: { certPem: config.require('certPem'), keyPem: config.requireSecret('keyPem') },`);
  if (tls === 'files-and-inline') {
    lines.push(
      `  tls: { certFile: '/etc/ssl/pop3.pem', certPem: config.require('certPem'), keyPem: config.requireSecret('keyPem') } as never,`,
    );
  }
  return `import * as pulumi from '@pulumi/pulumi';
import { Pop3Service } from '@pop3-iac/provider';

const config = new pulumi.Config();
const service = new Pop3Service('pop3', {
  adminSocket: config.require('adminSocket'),
${lines.join('\n')}
});

export const listeners = service.listeners;
export const generation = service.generation;
`;
}

const PREVIEW = ['preview', '--non-interactive'];
const UP = ['up', '--yes', '--non-interactive', '--skip-preview'];
const DRIFT_CHECK = ['refresh', '--preview-only', '--expect-no-changes', '--non-interactive'];

describe('pulumi CLI: Pop3Service through preview, up, refresh and destroy', () => {
  let world: PulumiWorld;
  let project: PulumiProject;
  let daemon: Daemon;
  let certificate: TestCertificate;
  let port: number;
  let secondPort: number;
  let sslPort: number;
  let startPort: number;
  /** The program as the steps grow it. */
  let fields: ProgramFields;

  const etag = async () => (await liveConfig(daemon)).etag;

  before(async () => {
    [world, port, secondPort, sslPort, startPort] = await Promise.all([
      PulumiWorld.create(),
      freePort(),
      freePort('127.0.0.2'),
      freePort(),
      freePort(),
    ]);
    certificate = makeCertificate();
    daemon = await startAliceDaemon({ binds: `127.0.0.1 ${startPort}` });
    fields = {
      binds: `127.0.0.1 ${port}`,
      ssl: { enabled: true, binds: '127.0.0.1', port: sslPort },
      starttls: true,
      permit: ['127.0.0.0/8'],
      deny: ['127.0.0.9'],
    };
    project = await world.project('pop3-e2e', { 'index.ts': program(fields) });
    await project.ok(['stack', 'init', 'e2e']);
    await project.setConfig(
      { adminSocket: daemon.socket, certPem: certificate.certPem },
      { keyPem: certificate.keyPem },
    );
  });

  after(async () => {
    await removeDaemon(daemon);
    // POP3_E2E_TRANSCRIPT=<file>: every pulumi command and its output, for reading a failure.
    if (process.env.POP3_E2E_TRANSCRIPT) await writeFile(process.env.POP3_E2E_TRANSCRIPT, world.transcript.join('\n'));
    await removeDir(world.root);
  });

  it('preview on a new stack shows the create and changes nothing', async () => {
    const before = await etag();
    const result = await project.ok(PREVIEW);
    assert.match(result.output, /\+\s+pulumi-nodejs:dynamic\/pop3:Pop3Service\s+pop3\s+create/, result.output);
    assert.equal(await etag(), before);
  });

  it('up applies it: every listener greets, every rule holds, GET /v1/config agrees', async () => {
    await project.ok(UP);
    const { config } = await liveConfig(daemon);
    assert.deepEqual(config.binds, [{ address: '127.0.0.1', port }]);
    assert.deepEqual(config.ssl, { enabled: true, binds: [{ address: '127.0.0.1', port: sslPort }], port: sslPort });
    assert.equal(config.starttls, true);
    assert.deepEqual(config.permit, ['127.0.0.0/8']);
    assert.deepEqual(config.deny, ['127.0.0.9']);
    assert.deepEqual(await liveListeners(daemon), [`pop3 127.0.0.1 ${port}`, `pop3s 127.0.0.1 ${sslPort}`]);
    assert.match(await firstLine('127.0.0.1', port), /^\+OK/);
    assert.match(await firstLine('127.0.0.1', sslPort, undefined, true), /^\+OK/);
    assert.doesNotMatch(await firstLine('127.0.0.1', port, '127.0.0.9'), /^\+OK/, 'deny 127.0.0.9');
    assert.equal(await firstLine('127.0.0.1', startPort), 'refused', 'the start-up listener is gone');
    const outputs = JSON.parse((await project.ok(['stack', 'output', '--json'])).stdout) as { listeners: unknown[] };
    assert.equal(outputs.listeners.length, 2);
  });

  for (const change of ['a bind added', 'a deny added'] as const) {
    it(`${change}: preview shows an update, up applies it, an open session is not dropped`, async () => {
      const session = await login({ host: '127.0.0.1', port }, 'alice', 'secret');
      try {
        if (change === 'a bind added') fields = { ...fields, binds: `127.0.0.1 ${port}, 127.0.0.2 ${secondPort}` };
        else fields = { ...fields, deny: ['127.0.0.9', '127.0.0.10'] };
        await project.write('index.ts', program(fields));
        const before = await etag();
        const preview = await project.ok(PREVIEW);
        const field = change === 'a bind added' ? 'binds' : 'deny';
        assert.match(
          preview.output,
          new RegExp(`~\\s+pulumi-nodejs:dynamic/pop3:Pop3Service\\s+pop3\\s+update \\[diff: ~${field}\\]`),
          preview.output,
        );
        assert.equal(await etag(), before, 'preview applies nothing');

        await project.ok(UP);
        if (change === 'a bind added') assert.match(await firstLine('127.0.0.2', secondPort), /^\+OK/);
        else assert.doesNotMatch(await firstLine('127.0.0.1', port, '127.0.0.10'), /^\+OK/);
        assert.match(
          (await session.command('STAT')) ?? '',
          /^\+OK 1 /,
          'the session opened before the update still works',
        );
      } finally {
        session.close();
      }
    });
  }

  it('drift made with pop3ctl apply: the drift check fails, up --refresh restores, the check passes', async () => {
    const declared = await liveConfig(daemon);
    const driftFile = join(world.root, 'drift.json');
    await writeFile(driftFile, JSON.stringify({ binds: `127.0.0.1 ${port}`, deny: ['127.0.0.5'] }));
    const { execa } = await import('execa');
    const pop3ctl = await execa('node', [POP3CTL_BIN, '--socket', daemon.socket, 'apply', driftFile], {
      reject: false,
    });
    assert.equal(pop3ctl.exitCode, 0, pop3ctl.stderr);

    const drifted = await project.run(DRIFT_CHECK);
    assert.notEqual(drifted.exitCode, 0, drifted.output);
    assert.match(drifted.output, /Pop3Service\s+pop3\s+update \[diff: .*deny/, drifted.output);
    assert.notEqual(await etag(), declared.etag, 'a refresh preview changes nothing');

    await project.ok(['up', '--refresh', '--yes', '--non-interactive', '--skip-preview']);
    assert.equal(await etag(), declared.etag, 'the declared configuration is back');
    assert.match(await firstLine('127.0.0.2', secondPort), /^\+OK/);

    const clean = await project.run(DRIFT_CHECK);
    assert.equal(clean.exitCode, 0, clean.output);
  });

  const invalid: Array<{ name: string; change: ProgramFields; message: RegExp }> = [
    {
      name: 'a bad CIDR',
      change: { deny: ['127.0.0.9', '10.0.0.0/33'] },
      message: /property deny\[1\] .*has a problem: prefix length "\/33"/,
    },
    {
      name: 'port 70000',
      change: { port: 70000 },
      message: /property port value \{70000\} has a problem: must be a port from 1 to 65535/,
    },
    {
      name: 'duplicate binds',
      change: { binds: '127.0.0.1 1234, 127.0.0.1 1234' },
      message: /property binds\[1\] .*has a problem: "127\.0\.0\.1 1234" is listed twice/,
    },
    {
      name: 'SSL without a certificate',
      change: { starttls: false, tls: 'none' },
      message: /property tls .*has a problem: is required when ssl\.enabled is true/,
    },
    // Regression: the engine prints a failing top-level property's value with its secrets.
    {
      name: 'a certificate both as files and inline',
      change: { tls: 'files-and-inline' },
      message: /has a problem: tls: give the certificate either as files/,
    },
  ];
  for (const { name, change, message } of invalid) {
    it(`an invalid program (${name}) fails preview naming the property; the daemon is untouched`, async () => {
      const before = await etag();
      await project.write('index.ts', program({ ...fields, ...change }));
      const result = await project.run(PREVIEW);
      assert.notEqual(result.exitCode, 0, result.output);
      assert.match(result.output, message);
      assert.doesNotMatch(result.output, /PRIVATE KEY/);
      assert.equal(await etag(), before);
    });
  }

  it('a bind held by another process: up fails naming it, the old config keeps serving, up succeeds once it is free', async () => {
    const heldPort = await freePort('127.0.0.3');
    const holder = await holdPort('127.0.0.3', heldPort);
    const before = await etag();
    fields = { ...fields, binds: `127.0.0.1 ${port}, 127.0.0.2 ${secondPort}, 127.0.0.3 ${heldPort}` };
    await project.write('index.ts', program(fields));
    try {
      const failed = await project.run(UP);
      assert.notEqual(failed.exitCode, 0, failed.output);
      assert.match(failed.output, new RegExp(`error: binds: "127\\.0\\.0\\.3 ${heldPort}": .*EADDRINUSE`));
      assert.equal(await etag(), before);
      assert.match(await firstLine('127.0.0.1', port), /^\+OK/);
      assert.match(await firstLine('127.0.0.2', secondPort), /^\+OK/);
    } finally {
      await release(holder);
    }
    await project.ok(UP);
    assert.match(await firstLine('127.0.0.3', heldPort), /^\+OK/);
  });

  it('pulumi stack export holds no plaintext private key', async () => {
    const exported = await project.ok(['stack', 'export']);
    assert.doesNotMatch(exported.stdout, /PRIVATE KEY/);
    assert.match(exported.stdout, /"keyFingerprint": "sha256:[0-9a-f]{64}"/);
    assert.match(exported.stdout, /"ciphertext"/, 'the key is stored encrypted');
    const outputs = await project.ok(['stack', 'output', '--json', '--show-secrets']);
    assert.doesNotMatch(outputs.stdout, /PRIVATE KEY/);
  });

  it('pulumi destroy leaves no POP3 listener and the admin socket answering', async () => {
    await project.ok(['destroy', '--yes', '--non-interactive', '--skip-preview']);
    assert.deepEqual(await liveListeners(daemon), []);
    assert.equal(await firstLine('127.0.0.1', port), 'refused');
    assert.equal((await daemon.admin('GET', '/v1/status')).status, 200);
  });

  it('no command printed the private key', () => {
    assert.ok(world.transcript.length > 10);
    for (const entry of world.transcript) assert.doesNotMatch(entry, /PRIVATE KEY/, entry.split('\n')[0]);
  });
});
