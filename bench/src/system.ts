/**
 * The machine side of the benchmark: the unprivileged user both servers run
 * as, Dovecot's package, a throw-away certificate, the file-descriptor limit,
 * and spawning a server as that user.
 */
import { chownSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Options as ExecaOptions, ResultPromise } from 'execa' with { 'resolution-mode': 'import' };

/** The user both servers run as and who owns the Maildir tree (Dovecot refuses to serve mail as root). */
export const BENCH_USER = 'pop3bench';

export interface Account {
  uid: number;
  gid: number;
}

async function execaModule() {
  return import('execa');
}

/** Runs a command to completion; throws with its output when it fails. */
export async function run(file: string, args: string[], options: ExecaOptions = {}): Promise<string> {
  const { execa } = await execaModule();
  const result = await execa(file, args, { reject: false, ...options, stdin: 'ignore' });
  if (result.exitCode !== 0) {
    throw new Error(`${file} ${args.join(' ')} failed (${result.exitCode}):\n${String(result.all ?? result.stderr)}`);
  }
  return String(result.stdout ?? '');
}

/**
 * Starts a long-running process (a server); the caller stops it. Wrapped in
 * an object: the subprocess is itself a promise, which `await` would unwrap.
 */
export async function start(file: string, args: string[], options: ExecaOptions): Promise<{ child: ResultPromise }> {
  const { execa } = await execaModule();
  const child = execa(file, args, {
    reject: false,
    stdin: 'ignore',
    cleanup: true,
    ...options,
  }) as unknown as ResultPromise;
  return { child };
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the benchmark must run as root: it installs dovecot-pop3d when missing, creates the unprivileged user ' +
        `"${BENCH_USER}" both servers run as, and starts Dovecot (whose master runs as root)`,
    );
  }
}

/** `dovecot-pop3d` from Debian when Dovecot's pop3 binary is missing. */
export async function ensureDovecot(log: (line: string) => void): Promise<void> {
  if (existsSync('/usr/sbin/dovecot') && existsSync('/usr/lib/dovecot/pop3')) return;
  log('installing dovecot-pop3d (apt-get install -y dovecot-pop3d)');
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'dovecot-pop3d'], {
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
}

export async function dovecotVersion(): Promise<string> {
  return (await run('dovecot', ['--version'])).trim();
}

/** The benchmark user, created (as a system user without a home or a login shell) when missing. */
export async function ensureBenchUser(): Promise<Account> {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(BENCH_USER + ':'));
  if (line === undefined) {
    await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', BENCH_USER]);
    return ensureBenchUser();
  }
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** chown -R, without following symlinks (there are none in what we generate). */
export function chownTree(path: string, account: Account): void {
  chownSync(path, account.uid, account.gid);
  if (!statSync(path).isDirectory()) return;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, account);
    else chownSync(child, account.uid, account.gid);
  }
}

/** A self-signed RSA-2048 certificate for 127.0.0.1 / localhost (the most common kind of certificate in use). */
export async function makeCertificate(dir: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-sha256',
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  return { certFile, keyFile };
}

/** The hard limit on open files: what a server may raise its own limit to. */
export function hardFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'latin1')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const hard = line?.trim().split(/\s+/)[4];
  return hard === undefined || hard === 'unlimited' ? 1_048_576 : Number(hard);
}

/**
 * The command that runs `argv` with its open-file limit at `nofile` and, when
 * `account` is given, as that user (setpriv, no supplementary groups).
 */
export function asUser(argv: string[], nofile: number, account?: Account): string[] {
  const limit = ['prlimit', `--nofile=${nofile}:${nofile}`, '--'];
  if (!account) return [...limit, ...argv];
  return [...limit, 'setpriv', `--reuid=${account.uid}`, `--regid=${account.gid}`, '--clear-groups', '--', ...argv];
}

export function machine(): { cores: number; model: string; memoryGiB: number; kernel: string } {
  const list = cpus();
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'latin1').trim();
  } catch {
    kernel = 'unknown';
  }
  return {
    cores: list.length,
    model: list[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel,
  };
}
