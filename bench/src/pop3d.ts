/**
 * The pop3d under test: the real daemon (runtime/bin/pop3d.js, as built by
 * `npx tsc -b`), run as the benchmark user on the shared Maildir tree, its
 * JSON log written to a file (as a service manager would), readiness = the
 * `pop3d.ready` log line. The admin API is reached over its Unix socket
 * with @pop3-iac/admin-client.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminRequest } from '@pop3-iac/admin-client';
import { POP3D_BIN } from '@pop3-iac/test-kit';
import type { ResultPromise } from 'execa' with { 'resolution-mode': 'import' };
import { ServerProcess, type ServerSetup } from './server-process';
import { asUser, chownTree, start } from './system';

export { POP3D_BIN };

/** How long pop3d may take to log `pop3d.ready`, ms. */
const READY_TIMEOUT_MS = 20_000;
/** How long a stop may take before SIGKILL, ms. */
const STOP_TIMEOUT_MS = 15_000;

/** proxyPort is a bind marked `proxy`, trusting 127.0.0.1. */
export interface Pop3dOptions extends ServerSetup {
  /** Write a V8 CPU profile (`node --cpu-prof`) into this directory at exit. */
  cpuProfileDir?: string;
  /** Let SIGUSR2 write a heap snapshot (`node --heapsnapshot-signal`) into this directory. */
  heapSnapshotDir?: string;
  /** Serve --metrics-listen on 127.0.0.1 at this port (for --scrape-metrics). */
  metricsPort?: number;
}

/** The configuration the benchmark runs pop3d with; extra binds are added for scenario f. */
export function benchConfig(o: Pop3dOptions, extraBinds: Array<{ address: string; port: number }> = []) {
  return {
    binds: [
      { address: '127.0.0.1', port: o.port },
      { address: '127.0.0.1', port: o.proxyPort, proxy: true },
      ...extraBinds,
    ],
    ssl: { enabled: true, binds: [{ address: '127.0.0.1', port: o.sslPort }] },
    proxyProtocol: { trusted: ['127.0.0.1'] },
    tls: { certFile: o.certFile, keyFile: o.keyFile },
    limits: {
      // 10,000 idle sessions (scenario c) plus headroom; all clients come from 127.0.0.1.
      maxConnections: 15_000,
      maxConnectionsPerIp: 15_000,
      // Dovecot's auth_failure_delay default is 2 s; keep pop3d's equal default. No login is meant to fail.
      loginFailureDelayMs: 2000,
    },
  };
}

export class Pop3d extends ServerProcess {
  readonly socket: string;
  readonly logFile: string;

  constructor(readonly options: Pop3dOptions) {
    super('pop3d', STOP_TIMEOUT_MS);
    this.socket = join(options.dir, 'admin.sock');
    this.logFile = join(options.dir, 'pop3d.log');
  }

  async start(): Promise<void> {
    const o = this.options;
    const stateDir = join(o.dir, 'state');
    mkdirSync(stateDir, { recursive: true });
    const configFile = join(o.dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(benchConfig(o), null, 2) + '\n');
    for (const d of [o.cpuProfileDir, o.heapSnapshotDir]) if (d) mkdirSync(d, { recursive: true });
    chownTree(o.dir, o.account);
    for (const d of [o.cpuProfileDir, o.heapSnapshotDir]) if (d) chownTree(d, o.account);
    const node = [
      process.execPath,
      ...(o.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfileDir}`] : []),
      ...(o.heapSnapshotDir ? ['--heapsnapshot-signal=SIGUSR2'] : []),
      POP3D_BIN,
      '--config',
      configFile,
      '--users',
      o.usersFile,
      '--maildir-root',
      o.maildirRoot,
      '--state-dir',
      stateDir,
      '--admin-socket',
      this.socket,
      '--hostname',
      'bench.invalid',
      '--drain-seconds',
      '1',
      ...(o.metricsPort ? ['--metrics-listen', `127.0.0.1:${o.metricsPort}`] : []),
    ];
    const [file, ...args] = asUser(node, o.nofile, o.account);
    // The log file itself is pop3d's stdout, as with `pop3d >> file` (and as
    // Dovecot writes its log_path): given as { file }, execa would pipe the
    // lines through this process, so that each flush of pop3d's log also woke
    // the load generator's machine share.
    const logFd = openSync(this.logFile, 'a');
    let child: ResultPromise;
    try {
      child = (
        await start(file!, args, {
          // A heap snapshot is written into the working directory.
          cwd: o.heapSnapshotDir ?? o.dir,
          // Any open descriptor works; execa's types spell out only 3 to 9.
          stdout: logFd as 3,
          stderr: { file: this.logFile + '.err' },
        })
      ).child;
    } finally {
      closeSync(logFd);
    }
    this.child = child;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      let log = '';
      try {
        log = readFileSync(this.logFile, 'utf8');
      } catch {
        // not created yet
      }
      // This process's ready line (after a restart the file may still show the previous one).
      if (log.includes('"event":"pop3d.ready"') && log.includes(`"pid":${child.pid}`)) return;
      if (child.exitCode !== null || Date.now() > deadline) {
        let err = '';
        try {
          err = readFileSync(this.logFile + '.err', 'utf8');
        } catch {
          // none
        }
        throw new Error(`pop3d did not become ready:\n${log.slice(-2000)}\n${err.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** One admin API call over the socket, through the shared client; the status and the parsed body. */
  async admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const { status, body: answer } = await adminRequest(this.socket, method, path, body);
    return { status, body: answer };
  }
}
