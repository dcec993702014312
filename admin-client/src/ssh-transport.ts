/**
 * The admin API through SSH: one session to the host's sshd, and per request
 * a channel to the daemon's Unix socket there (OpenSSH streamlocal
 * forwarding, `direct-streamlocal@openssh.com`). The host key must be one of
 * those given; a host that shows another is refused before authentication.
 */
import type * as Ssh2 from 'ssh2';
import type { Client, ConnectConfig } from 'ssh2';
import {
  AdminPermissionError,
  AdminTimeoutError,
  DaemonUnreachableError,
  SshAuthError,
  SshHostKeyError,
} from './errors';
import { acceptedHostKeys, blobType, fingerprintOf, hostKeyAlgorithms } from './host-key';
import { httpExchange, type AdminResponse, type Exchange } from './http-exchange';
import { describeTarget, type SshTarget } from './target';
import type { Transport } from './transport';

/** RFC 4254 §5.1: SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, what sshd answers when forwarding is off. */
const OPEN_ADMINISTRATIVELY_PROHIBITED = 1;

export function sshTransport(target: SshTarget, timeoutMs: number): Transport {
  const { host, username, privateKey } = target.ssh;
  const port = target.ssh.port ?? 22;
  const where = describeTarget(target);
  const keys = acceptedHostKeys(target.ssh.hostKey, host, port, where);
  let session: Promise<Client> | undefined;

  /** `gone` runs when the session ends, so the next request opens a new one. */
  const connect = (gone: () => void): Promise<Client> =>
    new Promise((resolve, reject) => {
      // Loaded at the first SSH connection: pop3d and socket-only clients never pay for the library.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const client = new (require('ssh2') as typeof Ssh2).Client();
      let presented: string | undefined;
      let ready = false;
      const config: ConnectConfig = {
        host,
        port,
        username,
        privateKey,
        readyTimeout: timeoutMs,
        // Ask for a key of a type we hold, so a host with several keys shows the one we can check.
        algorithms: { serverHostKey: hostKeyAlgorithms(keys) as never },
        hostVerifier: (key: Buffer) => {
          if (keys.some((known) => known.blob.equals(key))) return true;
          presented = fingerprintOf(blobType(key), key);
          return false;
        },
      };
      client.on('ready', () => {
        ready = true;
        resolve(client);
      });
      client.on('error', (error: Error & { level?: string; code?: string }) => {
        if (ready) return;
        if (presented !== undefined) reject(new SshHostKeyError(where, presented));
        else if (error.level === 'client-authentication') reject(new SshAuthError(where, username));
        else if (error.level === 'client-timeout') reject(new AdminTimeoutError(where, 'the SSH handshake', timeoutMs));
        else if (error.code !== undefined && /^E[A-Z]+$/.test(error.code))
          reject(
            new DaemonUnreachableError(
              where,
              { code: error.code, message: error.message },
              false,
              sshdRemedy(error.code),
            ),
          );
        else reject(error);
      });
      client.on('close', () => {
        gone();
        // After a rejection above this does nothing: a promise settles once.
        if (!ready)
          reject(
            new DaemonUnreachableError(
              where,
              { code: 'ECONNRESET', message: 'closed' },
              false,
              'sshd closed the connection during the handshake',
            ),
          );
      });
      try {
        client.connect(config);
      } catch (error) {
        reject(error);
      }
    });

  const channel = async (): Promise<NodeJS.ReadWriteStream> => {
    if (session === undefined) {
      const attempt: Promise<Client> = connect(() => {
        if (session === attempt) session = undefined;
      });
      session = attempt;
    }
    const client = await session;
    return new Promise((resolve, reject) => {
      client.openssh_forwardOutStreamLocal(target.socket, (error, stream) => {
        if (!error) {
          resolve(stream);
          return;
        }
        const reason = (error as Error & { reason?: number }).reason;
        reject(
          reason === OPEN_ADMINISTRATIVELY_PROHIBITED
            ? new AdminPermissionError(
                where,
                `sshd refused to forward to ${target.socket}: set AllowStreamLocalForwarding yes (or local) in its sshd_config`,
              )
            : new DaemonUnreachableError(
                where,
                { code: 'ECONNREFUSED', message: error.message },
                false,
                `sshd could not open ${target.socket} (${error.message}): is pop3d running there, is this its ` +
                  `--admin-socket, and may ${username} open it (the socket is mode 0600: log in as pop3d's user)? ` +
                  'sshd also refuses it under AllowStreamLocalForwarding no, AllowTcpForwarding no or PermitOpen none',
              ),
        );
      });
    });
  };

  return {
    async request(exchange: Exchange): Promise<AdminResponse> {
      const started = Date.now();
      const stream = await withDeadline(
        channel(),
        timeoutMs,
        () => new AdminTimeoutError(where, 'the SSH connection', timeoutMs),
      );
      return httpExchange(
        // One channel per request: the channel is the connection, and it closes with the answer.
        { createConnection: () => stream as never, headers: { Connection: 'close' } },
        { ...exchange, headers: { Connection: 'close', ...exchange.headers } },
        where,
        Math.max(1, timeoutMs - (Date.now() - started)),
        (error) => error,
      );
    },
    close() {
      const current = session;
      session = undefined;
      void current?.then(
        (client) => client.end(),
        () => undefined,
      );
    },
  };
}

function sshdRemedy(code: string): string {
  if (code === 'ECONNREFUSED') return 'connection refused: is sshd running on that host and port?';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return 'no route to the host: check the address and the network';
  return `cannot connect to sshd (${code})`;
}

function withDeadline<T>(work: Promise<T>, ms: number, late: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(late()), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
