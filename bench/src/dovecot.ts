/**
 * A private Dovecot: its own generated dovecot.conf, base_dir, state_dir and
 * log file under the benchmark's temporary directory; the same passwd-file
 * and Maildir tree as pop3d; POP3 and POP3S on loopback only. Nothing under
 * /etc is read or changed (`dovecot -c <conf>` reads only the generated file).
 *
 * Two modes, as Dovecot's documentation describes them
 * (https://doc.dovecot.org/2.3/admin_manual/login_processes/):
 *
 * - `default`: Dovecot's defaults ("high-security mode"): a new pop3-login
 *   process per connection (service_count = 1) and a pop3 process per
 *   session (client_limit = 1, service_count = 1).
 * - `performance`: "high-performance mode": service_count = 0 (a process
 *   serves connections until it is stopped) and process_min_avail = the
 *   number of CPU cores, for pop3-login (as the page says, with its
 *   vsz_limit = 1G) and for pop3 (as the benchmark's issue asks), the pop3
 *   client_limit raised from 1 so that a reused process can hold many
 *   sessions (service_count = 0 with client_limit = 1 would still need a
 *   process per open session), and no vsz_limit on pop3 (a process holding
 *   thousands of sessions needs more address space than any default).
 *
 * Limits are raised so that 10,000 sessions fit: default_client_limit in
 * both modes (bounded by the open-file limit each process can have), and in
 * the default mode the process_limit of pop3-login and pop3 (a process per
 * connection). Other services keep their defaults: raising every
 * process_limit makes the master ask for more processes (RLIMIT_NPROC) than
 * the machine allows.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dovecotConfText, dovecotConfPaths, dovecotLogLines, greets } from '@pop3-iac/test-kit';
import { ServerProcess, type ServerSetup } from './server-process';
import { asUser, run, start, BENCH_USER } from './system';

export type DovecotMode = 'default' | 'performance';

/** How long Dovecot may take to greet on its POP3 port after start, ms. */
const READY_TIMEOUT_MS = 20_000;
/** How long a stop may take before SIGKILL of the master, ms. */
const STOP_TIMEOUT_MS = 20_000;
/** pop3-login and pop3 processes in the default mode: 10,000 sessions (a process each) plus headroom. */
const PROCESS_LIMIT = 11_000;

/** proxyPort is Dovecot's `haproxy = yes` listener. */
export interface DovecotOptions extends ServerSetup {
  mode: DovecotMode;
  cores: number;
}

export function dovecotConf(o: DovecotOptions): string {
  // A process holding client_limit connections needs about that many descriptors (plus a few); a pop3 process
  // holds about three per session (the client's socket, index files), so its limit is lower: the master starts
  // more pop3 processes once those are full.
  const clientLimit = Math.min(12_000, o.nofile - 500);
  const pop3ClientLimit = Math.floor((o.nofile - 500) / 4);
  const performance = o.mode === 'performance';
  // The documented high-performance settings, with vsz_limit = 1G where the page puts it (pop3-login). A pop3
  // process holding thousands of sessions maps far more than that (about 0.8 MB of address space per session;
  // with the default_vsz_limit of 256M its allocations fail after a few hundred): no limit there (0).
  const tuned = (login: boolean) =>
    performance
      ? [`service_count = 0`, `process_min_avail = ${o.cores}`, `vsz_limit = ${login ? '1G' : '0'}`]
      : ["# Dovecot's defaults: service_count = 1, process_min_avail = 0"];
  const limit = performance ? [] : [`process_limit = ${PROCESS_LIMIT}`];
  return dovecotConfText({
    dir: o.dir,
    instanceName: `pop3bench-${o.mode}`,
    generatedBy: `the pop3d benchmark (bench/src/dovecot.ts), mode: ${o.mode}`,
    protocols: ['pop3'],
    usersFile: o.usersFile,
    maildirRoot: o.maildirRoot,
    mailUser: { uid: BENCH_USER, gid: BENCH_USER },
    firstValid: o.account,
    userdb: 'passwd-file',
    loginUser: 'dovenull',
    internalUser: 'dovecot',
    tls: { certFile: o.certFile, keyFile: o.keyFile },
    settings: [
      'shutdown_clients = yes',
      `default_client_limit = ${clientLimit}`,
      // Scenario g: the PROXY header is taken from the benchmark's HAProxy only.
      'haproxy_trusted_networks = 127.0.0.1',
    ],
    services: [
      {
        name: 'pop3-login',
        listeners: [
          { name: 'pop3', port: o.port },
          { name: 'pop3s', port: o.sslPort, ssl: true },
          { name: 'pop3-haproxy', port: o.proxyPort, haproxy: true },
        ],
        settings: [...tuned(true), ...limit],
      },
      {
        name: 'pop3',
        settings: [
          ...tuned(false),
          ...limit,
          performance ? `client_limit = ${pop3ClientLimit}` : '# client_limit = 1 (default)',
        ],
      },
    ],
  });
}

export class Dovecot extends ServerProcess {
  readonly confFile: string;
  readonly logFile: string;

  constructor(readonly options: DovecotOptions) {
    super('dovecot', STOP_TIMEOUT_MS);
    ({ confFile: this.confFile, logFile: this.logFile } = dovecotConfPaths(options.dir));
  }

  async start(): Promise<void> {
    const o = this.options;
    for (const sub of ['run', 'state']) mkdirSync(join(o.dir, sub), { recursive: true, mode: 0o755 });
    writeFileSync(this.confFile, dovecotConf(o));
    // Fail early, with doveconf's message, on a configuration Dovecot would refuse.
    await run('doveconf', ['-c', this.confFile, '-n']);
    // -F: stay in the foreground, so the master is our child and its pid is the root of the tree we measure.
    const [file, ...args] = asUser(['dovecot', '-F', '-c', this.confFile], o.nofile);
    const child = (await start(file!, args, { stdout: 'ignore', stderr: { file: join(o.dir, 'dovecot.stderr') } }))
      .child;
    this.child = child;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await greets(o.port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`dovecot (${o.mode}) did not start:\n${this.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  tail(): string {
    let text = '';
    for (const f of [this.logFile, join(this.options.dir, 'dovecot.stderr')]) {
      try {
        text += readFileSync(f, 'utf8').slice(-3000);
      } catch {
        // none
      }
    }
    return text;
  }

  /** Warnings and errors Dovecot logged (limits reached, refused connections): reported with the results. */
  problems(): string[] {
    return dovecotLogLines(this.logFile, ['Warning', 'Error', 'Fatal', 'Panic']).filter(
      (l) => !l.includes('Killed with signal 15'),
    );
  }
}
