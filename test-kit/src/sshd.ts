/**
 * A private OpenSSH sshd for tests: its own config file, host key, user key
 * and authorized_keys under a temp directory, a port chosen free, streamlocal
 * forwarding allowed (what the admin client's SSH transport uses), key-only
 * root login (the tests run as root). Started in the foreground (`-D -e`) so
 * stopping it is killing one process; optionally inside a network namespace.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ResultPromise } from 'execa' with { 'resolution-mode': 'import' };
import { freePort } from './pop3d-process';

const run = promisify(execFile);
export const SSHD_BIN = '/usr/sbin/sshd';

export interface Sshd {
  dir: string;
  host: string;
  port: number;
  username: string;
  /** The user's private key file, and its text. */
  userKeyFile: string;
  userKey: string;
  /** The host's public key in known_hosts form (`ssh-ed25519 AAAA… comment`). */
  hostKey: string;
  /** A known_hosts file holding `[host]:port ssh-ed25519 AAAA…`. */
  knownHostsFile: string;
  /** Everything sshd wrote to stderr (its log). */
  output(): string;
  stop(): Promise<void>;
  /** Starts it again on the same port, with the same keys. */
  restart(): Promise<void>;
}

async function keygen(file: string, comment: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

export interface SshdOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Default: true. Off shows the client's "forwarding refused" error. */
  allowStreamLocalForwarding?: boolean;
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const host = options.host ?? '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'pop3d-sshd-'));
  const hostKeyFile = join(dir, 'host_ed25519');
  const userKeyFile = join(dir, 'user_ed25519');
  await Promise.all([keygen(hostKeyFile, 'pop3d-test-host'), keygen(userKeyFile, 'pop3d-test-deployer')]);
  const authorizedKeys = join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, await readFile(`${userKeyFile}.pub`), { mode: 0o600 });
  // sshd refuses to start without its privilege separation directory (Debian: /run/sshd).
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  // A port free here; inside a namespace every port is free, so any will do.
  const port = options.netns === undefined ? await freePort(host) : 2222;
  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      `ListenAddress ${host}`,
      `HostKey ${hostKeyFile}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      // The temp directory's parents (/tmp) are not root-owned 0755 all the way; the files are 0600.
      'StrictModes no',
      `AllowStreamLocalForwarding ${options.allowStreamLocalForwarding === false ? 'no' : 'yes'}`,
      // OpenSSH 9.2 refuses streamlocal forwarding under `AllowTcpForwarding no` or `PermitOpen none` too.
      'AllowTcpForwarding local',
      'X11Forwarding no',
      'PermitTTY no',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  const hostKey = (await readFile(`${hostKeyFile}.pub`, 'utf8')).trim();
  const knownHostsFile = join(dir, 'known_hosts');
  await writeFile(knownHostsFile, `[${host}]:${port} ${hostKey}\n`);

  const { execa } = await import('execa');
  let output = '';
  let child: ResultPromise;
  const start = async () => {
    const command = [SSHD_BIN, '-D', '-e', '-f', config];
    child =
      options.netns === undefined
        ? execa(command[0]!, command.slice(1), { reject: false, buffer: false, stdin: 'ignore' })
        : execa('ip', ['netns', 'exec', options.netns, ...command], { reject: false, buffer: false, stdin: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start within 20 s:\n${output}`)), 20_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        if (/Server listening on/.test(output.split('\n').slice(-3).join('\n'))) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stderr?.on('data', onData);
      child.stdout?.on('data', onData);
      void child.then((result) => {
        clearTimeout(timer);
        reject(new Error(`sshd exited (${String(result.exitCode)}):\n${output}`));
      });
    });
  };
  await start();
  const stop = async () => {
    if (child.exitCode === undefined || child.exitCode === null) {
      child.kill('SIGTERM');
      await child;
    }
  };
  return {
    dir,
    host,
    port,
    username: userInfo().username,
    userKeyFile,
    userKey: await readFile(userKeyFile, 'utf8'),
    hostKey,
    knownHostsFile,
    output: () => output,
    stop,
    restart: async () => {
      await stop();
      output += '--- restart ---\n';
      await start();
    },
  };
}

/** Stops sshd and removes its directory. */
export async function removeSshd(sshd: Sshd): Promise<void> {
  await sshd.stop();
  await rm(sshd.dir, { recursive: true, force: true });
}
