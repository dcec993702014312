// End to end across hosts, as a pipeline on another machine runs it: the real
// `pulumi` CLI drives two Pop3Service, one reaching its pop3d over mutual TLS
// (--admin-listen, certificates from a real openssl PKI), one through a real
// OpenSSH sshd to the daemon's socket. Both daemons on loopback. The state
// never holds a private key.
import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import {
  PulumiWorld,
  firstLine,
  freePort,
  liveListeners,
  removeDir,
  removeRemote,
  startAdminTlsDaemon,
  startReadyDaemon,
  startRemoteNeighbours,
  type AdminPki,
  type Daemon,
  type PulumiProject,
  type Sshd,
} from './support';

type Props = Record<string, unknown>;

function program(pki: AdminPki, adminPort: number, sshd: Sshd, sshSocket: string, tlsPort: number, sshPort: number) {
  // Public material inline; the two private keys come from secret stack configuration.
  return `import * as pulumi from '@pulumi/pulumi';
import { Pop3Service } from '@pop3-iac/provider';

const config = new pulumi.Config();
const overTls = new Pop3Service('over-tls', {
  admin: {
    url: 'https://127.0.0.1:${adminPort}',
    caPem: ${JSON.stringify(pki.ca.certPem)},
    certPem: ${JSON.stringify(pki.deployer.certPem)},
    keyPem: config.requireSecret('tlsKeyPem'),
  },
  binds: '127.0.0.1 ${tlsPort}',
});
const overSsh = new Pop3Service('over-ssh', {
  admin: {
    ssh: {
      host: '127.0.0.1',
      port: ${sshd.port},
      username: ${JSON.stringify(sshd.username)},
      privateKey: config.requireSecret('sshPrivateKey'),
      hostKey: ${JSON.stringify(sshd.hostKey)},
    },
    socket: ${JSON.stringify(sshSocket)},
  },
  binds: '127.0.0.1 ${sshPort}',
});

export const tlsListeners = overTls.listeners;
export const sshListeners = overSsh.listeners;
`;
}

describe('pulumi CLI: two Pop3Service on two daemons, over mutual TLS and over SSH', () => {
  let world: PulumiWorld;
  let project: PulumiProject;
  let pki: AdminPki;
  let sshd: Sshd;
  let tlsDaemon: Daemon;
  let sshDaemon: Daemon;
  let tlsPort: number;
  let sshPort: number;

  before(async () => {
    let adminPort: number;
    [world, tlsPort, sshPort, { pki, sshd }] = await Promise.all([
      PulumiWorld.create(),
      freePort(),
      freePort(),
      startRemoteNeighbours(),
    ]);
    [{ daemon: tlsDaemon, adminPort }, sshDaemon] = await Promise.all([
      startAdminTlsDaemon(pki, { config: { binds: [] } }),
      startReadyDaemon({ config: { binds: [] } }),
    ]);
    project = await world.project('pop3-remote', {
      'index.ts': program(pki, adminPort, sshd, sshDaemon.socket, tlsPort, sshPort),
    });
    await project.ok(['stack', 'init', 'fleet']);
    await project.setConfig({}, { tlsKeyPem: pki.deployer.keyPem, sshPrivateKey: sshd.userKey });
  });

  after(async () => {
    await removeRemote({ daemons: [tlsDaemon, sshDaemon], sshd, pki });
    if (process.env.POP3_E2E_TRANSCRIPT) await writeFile(process.env.POP3_E2E_TRANSCRIPT, world.transcript.join('\n'));
    if (world) await removeDir(world.root);
  });

  it('preview shows both creates; up applies each daemon its binds', async () => {
    const preview = await project.ok(['preview', '--non-interactive']);
    assert.match(preview.output, /\+\s+pulumi-nodejs:dynamic\/pop3:Pop3Service\s+over-tls\s+create/, preview.output);
    assert.match(preview.output, /\+\s+pulumi-nodejs:dynamic\/pop3:Pop3Service\s+over-ssh\s+create/, preview.output);
    assert.deepEqual(await liveListeners(tlsDaemon), [], 'preview applies nothing');
    await project.ok(['up', '--yes', '--non-interactive', '--skip-preview']);
    assert.deepEqual(await liveListeners(tlsDaemon), [`pop3 127.0.0.1 ${tlsPort}`]);
    assert.deepEqual(await liveListeners(sshDaemon), [`pop3 127.0.0.1 ${sshPort}`]);
    assert.match(await firstLine('127.0.0.1', tlsPort), /^\+OK/);
    assert.match(await firstLine('127.0.0.1', sshPort), /^\+OK/);
    assert.match(sshd.output(), /Accepted publickey/);
  });

  it('pulumi stack export holds neither private key, nor does any command output', async () => {
    const exported = (await project.ok(['stack', 'export'])).stdout;
    assert.match(exported, /over-ssh/);
    for (const [name, key] of [
      ['the client certificate key', pki.deployer.keyPem],
      ['the SSH private key', sshd.userKey],
    ] as const) {
      const body = key.split('\n')[1]!;
      assert.ok(!exported.includes(body), `${name} is in the state`);
      assert.ok(!world.transcript.join('\n').includes(body), `${name} was printed`);
    }
    assert.doesNotMatch(exported, /PRIVATE KEY/);
    // Each target is kept, encrypted, as an input and as an output.
    const resources = (
      JSON.parse(exported) as {
        deployment: { resources: Array<{ type: string; inputs: Props; outputs: Props }> };
      }
    ).deployment.resources.filter((resource) => resource.type.endsWith(':Pop3Service'));
    assert.equal(resources.length, 2);
    for (const resource of resources)
      for (const side of [resource.inputs, resource.outputs])
        assert.match(String((side.admin as Props | undefined)?.ciphertext), /^v1:/);
  });

  it('destroy leaves no POP3 listener, and both daemons answering', async () => {
    await project.ok(['destroy', '--yes', '--non-interactive', '--skip-preview']);
    assert.deepEqual(await liveListeners(tlsDaemon), []);
    assert.deepEqual(await liveListeners(sshDaemon), []);
    assert.equal(await firstLine('127.0.0.1', tlsPort), 'refused');
    assert.equal(await firstLine('127.0.0.1', sshPort), 'refused');
  });

  it('preview of a daemon that cannot be reached fails on the resource naming its URL, and prints no key', async () => {
    const closed = await freePort();
    await project.write(
      'index.ts',
      `import * as pulumi from '@pulumi/pulumi';
import { Pop3Service } from '@pop3-iac/provider';

const config = new pulumi.Config();
new Pop3Service('gone', {
  admin: {
    url: 'https://127.0.0.1:${closed}',
    caPem: ${JSON.stringify(pki.ca.certPem)},
    certPem: ${JSON.stringify(pki.deployer.certPem)},
    keyPem: config.requireSecret('tlsKeyPem'),
  },
  binds: [],
});
`,
    );
    const preview = await project.run(['preview', '--non-interactive']);
    assert.notEqual(preview.exitCode, 0);
    assert.match(preview.output, new RegExp(`admin: cannot reach pop3d at https://127\\.0\\.0\\.1:${closed}`));
    assert.ok(!preview.output.includes(pki.deployer.keyPem.split('\n')[1]!), 'the key was printed');
  });
});
