// Managing a pop3d on another host: the daemon in its own network namespace,
// reached over a test bridge at 198.18.N.x by `pop3ctl --admin https://…`
// (mutual TLS) and `pop3ctl --admin ssh://…` through a real OpenSSH sshd in
// the same namespace, and each way's failures named with the host and a remedy.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  adminListenArgs,
  makeAdminPki,
  type AdminPki,
  createTestNetwork,
  type TestNetwork,
  POP3CTL_BIN,
  removeDir,
  startReadyDaemon,
  type Daemon,
  removeSshd,
  startSshd,
  type Sshd,
} from '@pop3-iac/test-kit';

const ADMIN_PORT = 7443;

async function pop3ctl(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number | undefined }> {
  const { execa } = await import('execa');
  const result = await execa('node', [POP3CTL_BIN, ...args], { reject: false, timeout: 60_000 });
  return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode };
}

async function greeting(host: string, port: number): Promise<string> {
  const socket = connect({ host, port });
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  socket.destroy();
  return chunk.toString('latin1');
}

describe('remote admin: pop3d in a network namespace', () => {
  let network: TestNetwork;
  let pki: AdminPki;
  let daemon: Daemon;
  let sshd: Sshd;
  let address: string;
  let work: string;

  const tlsArgs = () => [
    '--admin',
    `https://${address}:${ADMIN_PORT}`,
    '--tls-ca',
    pki.ca.cert,
    '--tls-cert',
    pki.deployer.cert,
    '--tls-key',
    pki.deployer.key,
  ];
  const sshTarget = () => `ssh://${sshd.username}@${address}:${sshd.port}${daemon.socket}`;
  const sshArgs = (knownHosts = sshd.knownHostsFile, key = sshd.userKeyFile) => [
    '--admin',
    sshTarget(),
    '--ssh-key',
    key,
    '--ssh-known-hosts',
    knownHosts,
  ];

  before(async () => {
    network = await createTestNetwork(1);
    const host = network.hosts[0]!;
    address = host.address;
    work = await mkdtemp(join(tmpdir(), 'pop3d-remote-'));
    pki = await makeAdminPki([address]);
    daemon = await startReadyDaemon({
      config: { binds: `${address} 110` },
      args: adminListenArgs(pki, `${address}:${ADMIN_PORT}`),
      netns: host.netns,
    });
    sshd = await startSshd({ host: address, netns: host.netns });
  });
  after(async () => {
    await daemon?.stop();
    if (sshd) await removeSshd(sshd);
    await network?.destroy();
    if (daemon) await removeDir(daemon.dir);
    if (pki) await removeDir(pki.dir);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('serves POP3 at its 198.18.N.x address over the bridge, and only inside its namespace', async () => {
    assert.match(address, /^198\.18\.\d+\.11$/);
    assert.match(await greeting(address, 110), /^\+OK /);
  });

  it('pop3ctl --admin https://… (mutual TLS) gets, applies and shows the status', async () => {
    const got = await pop3ctl([...tlsArgs(), '--json', 'get']);
    assert.equal(got.exitCode, 0, got.stderr);
    assert.deepEqual((JSON.parse(got.stdout) as { config: { binds: unknown } }).config.binds, [{ address, port: 110 }]);
    const file = join(work, 'two.json');
    await writeFile(file, JSON.stringify({ binds: `${address} 110, ${address} 1110` }));
    const applied = await pop3ctl([...tlsArgs(), 'apply', file]);
    assert.equal(applied.exitCode, 0, applied.stderr);
    assert.match(applied.stdout, new RegExp(`\\+ open  pop3 ${address.replace(/\./g, '\\.')}:1110`));
    assert.match(await greeting(address, 1110), /^\+OK /);
    const status = await pop3ctl([...tlsArgs(), '--json', 'status']);
    assert.equal(status.exitCode, 0, status.stderr);
    const report = JSON.parse(status.stdout) as {
      listeners: Array<{ port: number }>;
      recentApplies: Array<{ by: string; result: string }>;
    };
    assert.deepEqual(
      report.listeners.map((l) => l.port),
      [110, 1110],
    );
    assert.match(report.recentApplies.at(-1)!.by, /CN=deployer/);
  });

  it('pop3ctl --admin ssh://… through a real sshd gets, applies and shows the status', async () => {
    const got = await pop3ctl([...sshArgs(), '--json', 'get']);
    assert.equal(got.exitCode, 0, got.stderr);
    const file = join(work, 'one.json');
    await writeFile(file, JSON.stringify({ binds: `${address} 110` }));
    const applied = await pop3ctl([...sshArgs(), 'apply', file]);
    assert.equal(applied.exitCode, 0, applied.stderr);
    assert.match(applied.stdout, /- close pop3 198\.18\.\d+\.11:1110/);
    const status = await pop3ctl([...sshArgs(), '--json', 'status']);
    assert.equal(status.exitCode, 0, status.stderr);
    const report = JSON.parse(status.stdout) as {
      listeners: Array<{ port: number }>;
      recentApplies: Array<{ by: string }>;
    };
    assert.deepEqual(
      report.listeners.map((l) => l.port),
      [110],
    );
    // Through SSH the daemon sees its own socket: the caller is the socket's user.
    assert.equal(report.recentApplies.at(-1)!.by, 'unix');
    assert.match(sshd.output(), /Accepted publickey/);
  });

  it('a wrong SSH host key is refused, saying so and showing the key the host presented', async () => {
    const other = join(work, 'other_host_key');
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const wrong = join(work, 'wrong_known_hosts');
    await writeFile(wrong, `[${address}]:${sshd.port} ${(await readFile(`${other}.pub`, 'utf8')).trim()}\n`);
    const accepted = () => sshd.output().split('Accepted publickey').length;
    const before = accepted();
    const result = await pop3ctl([...sshArgs(wrong), 'status']);
    assert.equal(result.exitCode, 6, result.stderr);
    assert.match(result.stderr, /SSH host key of ssh:\/\/.*@198\.18\.\d+\.11:\d+.* does not match the one given/);
    assert.match(result.stderr, /presented ssh-ed25519 SHA256:/);
    // Refused before authentication: the client never logged in to the impostor.
    assert.equal(accepted(), before);
  });

  it('a known_hosts file with no key for this host is refused before connecting (never trust on first use)', async () => {
    const empty = join(work, 'empty_known_hosts');
    await writeFile(empty, '# nothing\n');
    const result = await pop3ctl([...sshArgs(empty), 'status']);
    assert.equal(result.exitCode, 2, result.stderr);
    assert.match(result.stderr, /no host key given for 198\.18\.\d+\.11:\d+; the host key is required/);
  });

  it('a key sshd does not accept: exit 6 naming the host and user', async () => {
    const stranger = join(work, 'stranger_key');
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const result = await pop3ctl([...sshArgs(undefined, stranger), 'status']);
    assert.equal(result.exitCode, 6, result.stderr);
    assert.match(result.stderr, /did not accept user \w+ with the given private key/);
  });

  it('sshd stopped: exit 6 naming the host; back again, it answers', async () => {
    await sshd.stop();
    try {
      const result = await pop3ctl([...sshArgs(), 'status']);
      assert.equal(result.exitCode, 6, result.stderr);
      assert.match(result.stderr, /cannot reach pop3d at ssh:\/\/\w+@198\.18\.\d+\.11:\d+\/.*is sshd running/);
    } finally {
      await sshd.restart();
    }
    assert.equal((await pop3ctl([...sshArgs(), 'status'])).exitCode, 0);
  });

  it('an sshd that forbids streamlocal forwarding: exit 6 naming the sshd_config setting', async () => {
    const strict = await startSshd({ allowStreamLocalForwarding: false });
    try {
      const result = await pop3ctl([
        '--admin',
        `ssh://${strict.username}@${strict.host}:${strict.port}${daemon.socket}`,
        '--ssh-key',
        strict.userKeyFile,
        '--ssh-known-hosts',
        strict.knownHostsFile,
        'status',
      ]);
      assert.equal(result.exitCode, 6, result.stderr);
      assert.match(result.stderr, new RegExp(`ssh://\\w+@127\\.0\\.0\\.1:${strict.port}/`));
      assert.match(result.stderr, /AllowStreamLocalForwarding no/);
    } finally {
      await removeSshd(strict);
    }
  });

  it('the daemon stopped behind a running sshd: exit 6 naming the socket path on that host', async () => {
    const missing = `ssh://${sshd.username}@${address}:${sshd.port}${daemon.socket}.missing`;
    const result = await pop3ctl([
      '--admin',
      missing,
      '--ssh-key',
      sshd.userKeyFile,
      '--ssh-known-hosts',
      sshd.knownHostsFile,
      'status',
    ]);
    assert.equal(result.exitCode, 6, result.stderr);
    assert.match(result.stderr, /sshd could not open .*admin\.sock\.missing.*is pop3d running there/);
  });
});
