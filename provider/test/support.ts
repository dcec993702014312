/**
 * What the provider tests share: the test kit's pieces (a real pop3d on ports
 * the OS picks, the POP3 client, certificates, sshd, the pulumi CLI),
 * re-exported under the names the provider tests use, and small probes built
 * on them.
 */
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import {
  greeting,
  login,
  makeAdminPki,
  removeDir,
  removeSshd,
  startReadyDaemon,
  startSshd,
  type AdminPki,
  type Daemon,
  type DaemonOptions,
  type Sshd,
} from '@pop3-iac/test-kit';
import { Pop3ProviderError } from '../src';

export {
  adminListenArgs,
  freePort,
  greeting,
  login,
  makeAdminPki,
  makeCertificate,
  Pop3Client,
  /** The name the provider tests knew the kit's client by. */
  Pop3Client as Wire,
  POP3CTL_BIN,
  removeDir,
  removeSshd,
  startReadyDaemon,
  startAdminTlsDaemon,
  startSshd,
  type AdminPki,
  type Daemon,
  type DaemonOptions,
  type Identity,
  type Sshd,
  type TestCertificate,
  createTestNetwork,
  assertRoutedVia,
  type TestNetwork,
  type NetnsHost,
  PulumiProject,
  PulumiWorld,
  REPO_ROOT,
  type RunResult,
} from '@pop3-iac/test-kit';

export interface LiveConfig {
  config: Record<string, unknown>;
  etag: string;
}

export async function liveConfig(daemon: Daemon): Promise<LiveConfig> {
  const response = await daemon.admin('GET', '/v1/config');
  if (response.status !== 200) throw new Error(`GET /v1/config: ${response.status} ${response.text}`);
  return { config: response.body as Record<string, unknown>, etag: String(response.headers.etag) };
}

export async function liveListeners(daemon: Daemon): Promise<string[]> {
  const response = await daemon.admin('GET', '/v1/status');
  const status = response.body as { listeners: Array<{ address: string; port: number; tls: boolean }> };
  return status.listeners.map((l) => `${l.tls ? 'pop3s' : 'pop3'} ${l.address} ${l.port}`).sort();
}

/**
 * What a client connecting from `localAddress` gets first: the greeting line,
 * `closed` (refused by access rules: no POP3 dialogue), or `refused` (nothing
 * listens there).
 */
export async function firstLine(host: string, port: number, localAddress?: string, tls = false): Promise<string> {
  try {
    return (await greeting({ host, port, localAddress, tls, timeoutMs: 5000 })) ?? 'closed';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return 'refused';
    if (code === 'ECONNRESET') return 'closed';
    throw error;
  }
}

/** Another process's socket on host:port, so that pop3d cannot bind it. */
export async function holdPort(host: string, port: number): Promise<Server> {
  const server = createServer((socket) => socket.destroy());
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

export async function release(server: Server): Promise<void> {
  server.close();
  await once(server, 'close');
}

/** The work fails with a Pop3ProviderError of this code and a message matching `pattern`. */
export async function rejectsWith(work: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof Pop3ProviderError, `not a Pop3ProviderError: ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

/** What `serves` logs in to: alice, password `secret`, one message. */
export const ALICE: Pick<DaemonOptions, 'users' | 'mail'> = {
  users: { alice: 'secret' },
  mail: { alice: [{ content: 'Subject: hi\r\n\r\nhello\r\n' }] },
};

/** A ready pop3d with alice's mailbox (ALICE) and this configuration. */
export function startAliceDaemon(config: unknown, options: Omit<DaemonOptions, 'config'> = {}): Promise<Daemon> {
  return startReadyDaemon({ ...ALICE, ...options, config });
}

/** Stops a daemon and removes its directory (if it got to start). */
export async function removeDaemon(daemon: Daemon | undefined): Promise<void> {
  await daemon?.stop();
  if (daemon) await removeDir(daemon.dir);
}

/** alice (password `secret`, one message) logs in on 127.0.0.1:`port` and counts her mailbox: the daemon serves POP3. */
export async function serves(port: number): Promise<void> {
  const session = await login({ host: '127.0.0.1', port }, 'alice', 'secret');
  try {
    assert.match((await session.command('STAT')) ?? '', /^\+OK 1 /);
  } finally {
    session.close();
  }
}

/** What the remote tests reach a daemon through: an openssl PKI whose daemon certificate names 127.0.0.1, and a real sshd on loopback. */
export async function startRemoteNeighbours(): Promise<{ pki: AdminPki; sshd: Sshd }> {
  const [pki, sshd] = await Promise.all([makeAdminPki(['127.0.0.1']), startSshd({ host: '127.0.0.1' })]);
  return { pki, sshd };
}

/** Stops and removes the daemons, sshd and PKI a remote test started (those it got to start). */
export async function removeRemote(parts: {
  daemons: Array<Daemon | undefined>;
  sshd: Sshd | undefined;
  pki: AdminPki | undefined;
}): Promise<void> {
  await Promise.all(parts.daemons.map(removeDaemon));
  if (parts.sshd) await removeSshd(parts.sshd);
  if (parts.pki) await removeDir(parts.pki.dir);
}
