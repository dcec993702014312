/**
 * An in-process POP3 server for the session's tests: a net.Server (or a
 * tls.Server for implicit TLS) on 127.0.0.1 port 0 handing each socket to a
 * Pop3Session, with a real Maildir root and passwd-file in a temp directory.
 */
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { DEFAULT_LIMITS, type Limits } from '@pop3-iac/schema';
import { createLogger } from '../../src/log';
import { MaildirStore } from '../../src/maildir/index';
import { DaemonMetrics } from '../../src/observability/metrics';
import { upgradeToTls } from '../../src/tls/upgrade';
import { Pop3Session, type SessionEnvironment, type SessionSettings } from '../../src/pop3/index';
import { LoginThrottle, PasswdFileDatabase } from '../../src/users/index';
import { makeTempDir, Pop3Client, removeDir, writePasswdFile } from '@pop3-iac/test-kit';
/** Key and certificate PEM text for the harness's STLS. */
type CertPair = { key: string; cert: string };

/** The schema's defaults, except a short failure delay so tests run fast. */
export const TEST_LIMITS: Limits = { ...DEFAULT_LIMITS, loginFailureDelayMs: 20, loginFailureDelayMaxMs: 200 };

export interface HarnessOptions {
  /** passwd-file users: name -> password ({PLAIN}) or a `{SCHEME}...` field. Default alice/bob. */
  users?: Record<string, string>;
  starttls?: boolean;
  allowPlaintextAuth?: boolean;
  limits?: Partial<Limits>;
  /** Certificate for STLS (and implicit TLS). */
  cert?: CertPair;
  /** Serve implicit TLS (POP3S) instead of plain POP3. */
  implicitTls?: boolean;
  /** Pretend every client connects from this address (tests of the non-loopback rules). */
  peerAddress?: string;
  /** Called with each accepted socket before its session starts (to observe writes). */
  onSocket?: (socket: net.Socket) => void;
}

export interface Harness {
  port: number;
  /** Temp directory holding everything. */
  dir: string;
  /** The Maildir root: the mailbox of u is `<root>/u/Maildir`. */
  root: string;
  passwdFile: string;
  /** Mutable: sessions read it afresh. */
  settings: SessionSettings;
  /** Every log line written, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Raw log text. */
  logText(): string;
  sessions: Set<Pop3Session>;
  store: MaildirStore;
  throttle: LoginThrottle;
  /** The sessions' series (commands, logins, deletions); not the connection-level ones, which Pop3Server counts. */
  metrics: DaemonMetrics;
  /** Connects a client and checks the greeting. */
  connect(opts?: { tls?: boolean; host?: string }): Promise<Pop3Client>;
  /** Connects and logs in with USER/PASS (asserting +OK). */
  login(user: string, password: string): Promise<Pop3Client>;
  /** Resolves when no session is open. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = await makeTempDir();
  const root = path.join(dir, 'mail');
  const passwdFile = path.join(dir, 'passwd');
  await mkdir(root, { mode: 0o700 });
  await writePasswdFile(passwdFile, opts.users ?? { alice: 'alice-secret', bob: 'bob-secret' });

  const lines: string[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger({
    write(line: string) {
      lines.push(line);
      logs.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  const settings: SessionSettings = {
    starttls: opts.starttls ?? false,
    allowPlaintextAuth: opts.allowPlaintextAuth ?? false,
    limits: { ...TEST_LIMITS, ...opts.limits },
  };
  const secureContext = opts.cert ? tls.createSecureContext({ key: opts.cert.key, cert: opts.cert.cert }) : undefined;
  const store = new MaildirStore({ root, log });
  const throttle = new LoginThrottle();
  const metrics = new DaemonMetrics();
  const tlsCounters = { tlsHandshakeFailures: 0, tlsHandshakeTimeouts: 0, tlsSessionErrors: 0 };
  const env: SessionEnvironment = {
    settings: () => settings,
    secureContext: () => secureContext,
    mailstore: store,
    users: new PasswdFileDatabase(passwdFile, log),
    loginThrottle: throttle,
    log,
    metrics,
    hostname: 'pop3.test',
    startTls: (plain, upgrade) => upgradeToTls(plain, { counters: tlsCounters, metrics }, upgrade),
  };
  const sessions = new Set<Pop3Session>();
  const idleWaiters: Array<() => void> = [];
  const handle = (socket: net.Socket, implicitTls: boolean): void => {
    opts.onSocket?.(socket);
    const session = new Pop3Session(socket, env, {
      peerAddress: opts.peerAddress ?? socket.remoteAddress ?? '',
      implicitTls,
      listener: 'test',
    });
    sessions.add(session);
    session.once('close', () => {
      sessions.delete(session);
      if (sessions.size === 0) for (const w of idleWaiters.splice(0)) w();
    });
    session.start();
  };
  const server: net.Server = opts.implicitTls
    ? tls.createServer({ key: opts.cert!.key, cert: opts.cert!.cert, allowHalfOpen: true }, (s) => handle(s, true))
    : net.createServer({ allowHalfOpen: true }, (s) => handle(s, false));
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;

  const harness: Harness = {
    port,
    dir,
    root,
    passwdFile,
    settings,
    logs,
    logText: () => lines.join(''),
    sessions,
    store,
    throttle,
    metrics,
    async connect(c = {}) {
      const { client, greeting } = await Pop3Client.connect(port, { tls: c.tls ?? opts.implicitTls, host: c.host });
      if (greeting !== '+OK pop3.test POP3 server ready') throw new Error(`unexpected greeting ${greeting}`);
      return client;
    },
    async login(user, password) {
      const client = await harness.connect();
      const reply = await client.login(user, password);
      if (!reply?.startsWith('+OK')) throw new Error(`login failed: ${reply}`);
      return client;
    },
    idle() {
      if (sessions.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      server.close();
      for (const s of sessions) s.terminate('server shutting down');
      await Promise.race([harness.idle(), new Promise((r) => setTimeout(r, 2000).unref())]);
      await removeDir(dir);
    },
  };
  return harness;
}
