/**
 * What the provider tests share: the runtime's own pop3d test harness (a real
 * daemon on ports the OS picks), and small real-socket probes.
 */
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Daemon } from '@pop3-iac/runtime/dist/test/support/pop3d-process';
import { login } from '@pop3-iac/runtime/dist/test/support/wire';
import { Pop3ProviderError } from '../src';

export {
  freePort,
  startReadyDaemon,
  removeDir,
  POP3CTL_BIN,
  type Daemon,
  type DaemonOptions,
} from '@pop3-iac/runtime/dist/test/support/pop3d-process';
export { Wire, greeting, login } from '@pop3-iac/runtime/dist/test/support/wire';
export { makeCertificate, type TestCertificate } from '@pop3-iac/runtime/dist/test/support/certificates';

/** The repository root (tests run from provider/dist/test). */
export const REPO_ROOT = `${__dirname}/../../..`;

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
export function firstLine(host: string, port: number, localAddress?: string, tls = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const plain = connect({ host, port, localAddress });
    const socket = tls ? tlsConnect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' }) : plain;
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no line from ${host}:${port} within 5 s`));
    }, 5000);
    const done = (value: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\r\n');
      if (end !== -1) done(buffer.slice(0, end));
    });
    socket.on('close', () => done(buffer === '' ? 'closed' : buffer));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') done('refused');
      else if (error.code === 'ECONNRESET') done('closed');
      else {
        clearTimeout(timer);
        reject(error);
      }
    });
  });
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

/** alice (password `secret`, one message) logs in on 127.0.0.1:`port` and counts her mailbox: the daemon serves POP3. */
export async function serves(port: number): Promise<void> {
  const session = await login({ host: '127.0.0.1', port }, 'alice', 'secret');
  try {
    assert.match((await session.command('STAT')) ?? '', /^\+OK 1 /);
  } finally {
    session.close();
  }
}
export { makeAdminPki, adminListenArgs, type AdminPki } from '@pop3-iac/runtime/dist/test/support/admin-pki';
export { startSshd, removeSshd, type Sshd } from '@pop3-iac/runtime/dist/test/support/sshd';
export {
  createTestNetwork,
  assertRoutedVia,
  type TestNetwork,
  type NetnsHost,
} from '@pop3-iac/runtime/dist/test/support/netns';
