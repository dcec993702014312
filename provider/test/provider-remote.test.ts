// The `admin` input at the provider's methods: one real pop3d on loopback with
// --admin-listen (certificates from a real openssl PKI) and a real OpenSSH sshd
// in front of its socket. The same daemon reached over mutual TLS, then through
// SSH, is one resource (an update, never a replace), and a host key that does
// not match fails naming the host.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type * as pulumi from '@pulumi/pulumi';
import { pop3ServiceProvider } from '../src';
import {
  ALICE,
  firstLine,
  freePort,
  liveListeners,
  removeRemote,
  removeSshd,
  serves,
  startAdminTlsDaemon,
  startRemoteNeighbours,
  startSshd,
  type AdminPki,
  type Daemon,
  type Sshd,
} from './support';

type Props = Record<string, unknown>;

const provider = pop3ServiceProvider as Required<pulumi.dynamic.ResourceProvider>;
const OWNER = { project: 'mail', stack: 'prod', resource: 'remote' };

describe('admin: mutual TLS and SSH', () => {
  let pki: AdminPki;
  let daemon: Daemon;
  let sshd: Sshd;
  let adminPort: number;
  let port: number;
  let otherPort: number;

  before(async () => {
    [port, otherPort] = await Promise.all([freePort(), freePort()]);
    ({ pki, sshd } = await startRemoteNeighbours());
    ({ daemon, adminPort } = await startAdminTlsDaemon(pki, { ...ALICE, config: { binds: [] } }));
  });
  after(() => removeRemote({ daemons: [daemon], sshd, pki }));

  const tls = () => ({
    url: `https://127.0.0.1:${adminPort}`,
    caPem: pki.ca.certPem,
    certPem: pki.deployer.certPem,
    keyPem: pki.deployer.keyPem,
  });
  const ssh = (hostKey = sshd.hostKey) => ({
    ssh: { host: '127.0.0.1', port: sshd.port, username: sshd.username, privateKey: sshd.userKey, hostKey },
    socket: daemon.socket,
  });
  const checked = async (news: Props, olds: Props = {}): Promise<Props> => {
    const result = await provider.check(olds, { owner: OWNER, ...news });
    assert.deepEqual(result.failures ?? [], []);
    return result.inputs as Props;
  };

  let state: Props;
  let inputs: Props;

  it('create over mutual TLS applies the binds, and the ID is the daemon instanceId', async () => {
    inputs = await checked({ admin: tls(), binds: `127.0.0.1 ${port}` });
    assert.equal(inputs.adminSocket, undefined, 'a remote target is stored as admin');
    const created = await provider.create(inputs);
    state = created.outs as Props;
    const status = (await daemon.admin('GET', '/v1/status')).body as { instanceId: string };
    assert.equal(created.id, status.instanceId);
    assert.deepEqual(state.admin, tls());
    await serves(port);
  });

  it('the same daemon through SSH is an update in place, applied through the SSH channel', async () => {
    const news = await checked({ admin: ssh(), binds: `127.0.0.1 ${port}, 127.0.0.1 ${otherPort}` }, inputs);
    const diff = await provider.diff(String(state.instanceId), state, news);
    assert.equal(diff.changes, true);
    assert.deepEqual(diff.replaces, []);
    const updated = await provider.update(String(state.instanceId), state, news);
    state = updated.outs as Props;
    inputs = news;
    assert.deepEqual(state.admin, ssh());
    assert.deepEqual(await liveListeners(daemon), [`pop3 127.0.0.1 ${otherPort}`, `pop3 127.0.0.1 ${port}`].sort());
    assert.match(sshd.output(), /Accepted publickey/);
    await serves(otherPort);
  });

  it('a host key that does not match fails the diff naming the ssh host, and nothing changes', async () => {
    const other = await startSshd({ host: '127.0.0.1' });
    try {
      const news = { ...inputs, admin: ssh(other.hostKey) };
      await assert.rejects(provider.diff(String(state.instanceId), state, news), (error: Error) => {
        assert.match(error.message, new RegExp(`ssh://${sshd.username}@127\\.0\\.0\\.1:${sshd.port}`));
        assert.match(error.message, /host key/i);
        return true;
      });
    } finally {
      await removeSshd(other);
    }
    await serves(port);
  });

  it('a client certificate the daemon does not trust fails the check of a create naming the URL', async () => {
    const result = await provider.check(
      {},
      {
        owner: { ...OWNER, resource: 'foreign' },
        admin: { ...tls(), certPem: pki.foreign.certPem, keyPem: pki.foreign.keyPem },
      },
    );
    const failures = result.failures ?? [];
    assert.equal(failures.length, 1);
    // On the resource, not on property admin: the engine would print the value, key included.
    assert.equal(failures[0]!.property, '');
    assert.match(failures[0]!.reason, new RegExp(`^admin: .*https://127\\.0\\.0\\.1:${adminPort}`));
  });

  it('an ssh target without hostKey is refused by check, naming the field', async () => {
    const { hostKey: _hostKey, ...noKey } = ssh().ssh;
    const result = await provider.check({}, { owner: OWNER, admin: { ssh: noKey, socket: daemon.socket } });
    assert.deepEqual(
      (result.failures ?? []).map((failure) => failure.property),
      ['admin.ssh.hostKey'],
    );
  });

  it('delete through SSH leaves the daemon answering with no POP3 listener', async () => {
    await provider.delete(String(state.instanceId), state);
    assert.deepEqual(await liveListeners(daemon), []);
    assert.equal(await firstLine('127.0.0.1', port), 'refused');
  });
});
