/**
 * Starts the real `pop3d` process for integration tests: its own temp
 * directory (users file, Maildir root, state dir, admin socket), ports picked
 * by the OS, the process's JSON log captured, and a clean stop.
 */
import { once } from 'node:events';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { adminRequest, type AdminResponse } from '@pop3-iac/admin-client';
import type { ResultPromise } from 'execa' with { 'resolution-mode': 'import' };
import { makeCertificate } from './certificates';
import { writeMaildir, type MessageSpec } from './maildir';

/**
 * The runtime package's directory, found at run time (the kit is not a
 * TypeScript dependency of the runtime's tests' project, only of its files).
 */
export const RUNTIME_ROOT = dirname(require.resolve('@pop3-iac/runtime/package.json'));
export const POP3D_BIN = join(RUNTIME_ROOT, 'bin', 'pop3d.js');
export const POP3CTL_BIN = join(RUNTIME_ROOT, 'bin', 'pop3ctl.js');

/** A port the OS says is free on `host` right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface DaemonOptions {
  config: unknown;
  users?: Record<string, string>;
  mail?: Record<string, MessageSpec[]>;
  /** Extra arguments for pop3d. */
  args?: string[];
  /** Reuse a directory (restart tests). */
  dir?: string;
  /** Keep the --config file from being passed (restart without it). */
  omitConfig?: boolean;
  /** Users from this --userdb file instead of the --users file. */
  userdb?: string;
  /** Use this Maildir root (several daemons on one tree) instead of `<dir>/mail`. */
  maildirRoot?: string;
  /** Run pop3d inside this network namespace (`ip netns exec`; see netns.ts). */
  netns?: string;
}

export interface Daemon {
  dir: string;
  socket: string;
  maildirRoot: string;
  stateDir: string;
  usersFile: string;
  process: ResultPromise;
  /** Every line pop3d wrote to stdout (JSON log) and stderr, so far. */
  output(): string;
  logEvents(): Array<Record<string, unknown>>;
  admin(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<AdminResponse>;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | undefined>;
  /**
   * Waits until a log line with this event appears: the first one, or with
   * `after` the one past the first `after` (a test that counted them before
   * acting waits for the line its action makes, not one logged earlier).
   */
  waitForEvent(event: string, timeoutMs?: number, after?: number): Promise<Record<string, unknown>>;
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { execa } = await import('execa');
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'pop3d-test-')));
  const maildirRoot = options.maildirRoot ?? join(dir, 'mail');
  const stateDir = join(dir, 'state');
  const usersFile = join(dir, 'users');
  const configFile = join(dir, 'config.json');
  const socket = join(dir, 'admin.sock');
  await mkdir(maildirRoot, { recursive: true });
  if (options.dir === undefined) {
    const users = options.users ?? { alice: 'secret' };
    await writeFile(
      usersFile,
      Object.entries(users)
        .map(([u, p]) => `${u}:{PLAIN}${p}\n`)
        .join(''),
      { mode: 0o600 },
    );
    for (const [user, messages] of Object.entries(options.mail ?? {})) await writeMaildir(maildirRoot, user, messages);
  }
  await writeFile(configFile, JSON.stringify(options.config));
  const args = [
    POP3D_BIN,
    ...(options.omitConfig ? [] : ['--config', configFile]),
    ...(options.userdb === undefined ? ['--users', usersFile] : ['--userdb', options.userdb]),
    '--maildir-root',
    maildirRoot,
    '--state-dir',
    stateDir,
    '--admin-socket',
    socket,
    '--drain-seconds',
    '1',
    ...(options.args ?? []),
  ];
  // `ip netns exec` execs node in place, so the child is pop3d itself and signals reach it.
  const child =
    options.netns === undefined
      ? execa('node', args, { reject: false, buffer: false, stdin: 'ignore' })
      : execa('ip', ['netns', 'exec', options.netns, 'node', ...args], {
          reject: false,
          buffer: false,
          stdin: 'ignore',
        });
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const wake of waiters) wake();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exited = false;
  void child.then(() => {
    exited = true;
    for (const wake of waiters) wake();
  });

  const logEvents = () =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return {};
        }
      });

  // Generous: a loaded 2-core CI machine can take seconds to start a Node process.
  const waitForEvent = (event: string, timeoutMs = 30_000, after = 0) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const found = logEvents().filter((e) => e.event === event)[after];
        if (found) {
          cleanup();
          resolve(found);
        } else if (exited) {
          cleanup();
          reject(new Error(`pop3d exited before "${event}":\n${output}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no "${event}" from pop3d within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const daemon: Daemon = {
    dir,
    socket,
    maildirRoot,
    stateDir,
    usersFile,
    process: child,
    output: () => output,
    logEvents,
    waitForEvent,
    admin: (method, path, body, headers) => adminRequest(socket, method, path, body, headers),
    async stop(signal = 'SIGTERM') {
      if (!exited) child.kill(signal);
      const result = await child;
      return result.exitCode;
    },
  };
  return daemon;
}

/** Starts pop3d and waits until it is ready to serve. */
export async function startReadyDaemon(options: DaemonOptions): Promise<Daemon> {
  const daemon = await startDaemon(options);
  await daemon.waitForEvent('pop3d.ready');
  return daemon;
}

export interface ServingOptions extends Omit<DaemonOptions, 'config'> {
  /** More configuration (limits, starttls, ...) beside the binds chosen here; its keys win. */
  config?: Record<string, unknown>;
  /** Also serve POP3S on a second port, with a fresh self-signed certificate. */
  ssl?: boolean;
}

export interface Serving {
  daemon: Daemon;
  /** Plain POP3 on 127.0.0.1. */
  port: number;
  /** POP3S on 127.0.0.1; 0 without `ssl`. */
  sslPort: number;
}

/** A ready pop3d serving POP3 (and POP3S with `ssl`) on ports the OS chose: the set-up most daemon tests start with. */
export async function startServing(options: ServingOptions = {}): Promise<Serving> {
  const port = await freePort();
  const sslPort = options.ssl ? await freePort() : 0;
  const tls = options.ssl ? makeCertificate() : undefined;
  const config = {
    binds: `127.0.0.1 ${port}`,
    ...(tls === undefined
      ? {}
      : { ssl: { enabled: true, binds: `127.0.0.1 ${sslPort}` }, tls: { certPem: tls.certPem, keyPem: tls.keyPem } }),
    ...options.config,
  };
  const daemon = await startReadyDaemon({ ...options, config });
  return { daemon, port, sslPort };
}
