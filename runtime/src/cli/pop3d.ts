/**
 * pop3d: the daemon's command line. Seeds the first start from --config,
 * resumes the persisted configuration after that, serves POP3 on the
 * configured listeners and the admin API on a Unix socket (and, with
 * --admin-listen, over mutual TLS), drains on SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatIssues, parseConfig, type CanonicalConfig } from '@pop3-iac/schema';
import { ApplyHistory, UNIX_IDENTITY } from '../admin/apply-history';
import { ConfigController } from '../admin/config-controller';
import { ConfigStore } from '../admin/config-store';
import { loadOrCreateInstanceId } from '../admin/instance-id';
import { lockStateDir } from '../admin/state-dir-lock';
import { createAdminApi } from '../admin/http-api';
import { parseOwner, type Owner } from '../admin/owner';
import { statusReport } from '../admin/status';
import { AdminTlsListener, type AdminTlsOptions } from '../admin/tls-listener';
import { listenOnUnixSocket } from '../admin/unix-socket';
import { demoInstructions, demoPaths, ensureDemo } from '../demo/demo-setup';
import { createLogger, type Logger } from '../log';
import { BatchedLogStream } from '../log-batch';
import { MaildirStore } from '../maildir';
import { DovecotUidls } from '../maildir/dovecot-uidls';
import { compileUidlFormat, DEFAULT_UIDL_FORMAT, UidlFormatError } from '../maildir/uidl-format';
import { listenForMetrics, parseMetricsListen } from '../observability/metrics-listener';
import { type ListenAddress, parseListenAddress } from '../net/listen-address';
import { Pop3Server } from '../server/pop3-server';
import { LoginThrottle, PasswdFileDatabase, PostgresUserDatabase, type UserDatabase, loadUserDbConfig } from '../users';
import { VERSION } from '../version';
import { valueOptions, flagList, givenFlags, readFlagFile } from './file-flags';

/** How long SIGTERM waits for sessions to QUIT on their own before ending them, in seconds. */
const DEFAULT_DRAIN_SECONDS = 10;

const USAGE = `usage: pop3d --config <file.json> (--users <passwd-file> | --userdb <file.json>) --maildir-root <dir>
             --state-dir <dir> [--admin-socket <path>] [--drain-seconds <n>] [--hostname <name>]
             [--uidl maildir|dovecot] [--uidl-format <pop3_uidl_format>] [--metrics-listen <address:port>]
             [--admin-listen <address:port> --admin-tls-cert <file> --admin-tls-key <file>
              --admin-client-ca <file> [--admin-reader-ca <file>]]
       pop3d --demo        run on the embedded demo configuration (loopback, ports ${1110}/${1995})
       pop3d --version

The Maildir of user u is <maildir-root>/u/Maildir. --config seeds the first start;
after that the configuration last applied through the admin API (kept in --state-dir) wins.
Without --admin-socket the socket is <state-dir>/admin.sock. --admin-listen also serves
the admin API over TLS 1.3 to client certificates from --admin-client-ca (read and
apply) or --admin-reader-ca (read only).
--uidl dovecot gives the UIDLs Dovecot's POP3 gives (from dovecot-uidlist, Dovecot's default
pop3_uidl_format %08Xu%08Xv, or --uidl-format); the default, --uidl maildir, the Maildir unique names.
--metrics-listen serves GET /metrics (Prometheus text) over plain HTTP, nothing else.`;

class UsageError extends Error {}

interface Options {
  config?: string;
  /** --users (a passwd-file) or --userdb (a database), exactly one. */
  users: { passwd: string } | { userdb: string };
  maildirRoot: string;
  stateDir: string;
  adminSocket: string;
  drainSeconds: number;
  hostname: string;
  /** --metrics-listen, as given (checked by parseListenAddress). */
  metricsListen?: string;
  demo: boolean;
  /** --uidl dovecot: the pop3_uidl_format to give UIDLs with; undefined for the Maildir unique names. */
  dovecotUidlFormat?: string;
  adminTls?: AdminTlsFiles;
}

/** The --admin-listen flags, files not yet read. */
interface AdminTlsFiles {
  listen: ListenAddress;
  cert: string;
  key: string;
  clientCa: string;
  readerCa?: string;
}

const ADMIN_TLS_FLAGS = ['admin-tls-cert', 'admin-tls-key', 'admin-client-ca', 'admin-reader-ca'] as const;

function adminTlsFiles(values: Record<string, string | boolean | undefined>): AdminTlsFiles | undefined {
  const listen = values['admin-listen'] as string | undefined;
  if (listen === undefined) {
    const stray = givenFlags(values, ADMIN_TLS_FLAGS);
    if (stray.length > 0) throw new UsageError(`${flagList(stray)} need --admin-listen`);
    return undefined;
  }
  const missing = ADMIN_TLS_FLAGS.slice(0, 3).filter((flag) => values[flag] === undefined);
  if (missing.length > 0)
    throw new UsageError(`--admin-listen needs ${flagList(missing)} (a client certificate is always required)`);
  let address;
  try {
    address = parseListenAddress(listen, '--admin-listen', { portZero: true, examplePort: 7443 });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const file = (flag: string) => resolve(values[flag] as string);
  return {
    listen: address,
    cert: file('admin-tls-cert'),
    key: file('admin-tls-key'),
    clientCa: file('admin-client-ca'),
    ...(values['admin-reader-ca'] === undefined ? {} : { readerCa: file('admin-reader-ca') }),
  };
}

async function readAdminTls(files: AdminTlsFiles): Promise<AdminTlsOptions> {
  return {
    listen: files.listen,
    certPem: await readFlagFile('admin-tls-cert', files.cert),
    keyPem: await readFlagFile('admin-tls-key', files.key),
    clientCaPem: await readFlagFile('admin-client-ca', files.clientCa),
    ...(files.readerCa === undefined ? {} : { readerCaPem: await readFlagFile('admin-reader-ca', files.readerCa) }),
  };
}

/** The flags that take a value, but for the admin listener's files (ADMIN_TLS_FLAGS). */
const VALUE_FLAGS = [
  'config',
  'users',
  'userdb',
  'maildir-root',
  'state-dir',
  'admin-socket',
  'admin-listen',
  'drain-seconds',
  'hostname',
  'uidl',
  'uidl-format',
  'metrics-listen',
] as const;

async function parseOptions(argv: string[]): Promise<Options | 'version'> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...valueOptions(VALUE_FLAGS),
      ...valueOptions(ADMIN_TLS_FLAGS),
      demo: { type: 'boolean' },
      version: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) throw new UsageError('');
  if (values.version) return 'version';
  const drainSeconds = values['drain-seconds'] === undefined ? DEFAULT_DRAIN_SECONDS : Number(values['drain-seconds']);
  if (!(drainSeconds >= 0)) throw new UsageError('--drain-seconds must be a number of seconds');
  const dovecotUidlFormat = uidlFormat(values.uidl, values['uidl-format']);
  const metricsListen = values['metrics-listen'];
  if (metricsListen !== undefined) {
    try {
      parseMetricsListen(metricsListen);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const adminTls = adminTlsFiles(values);
  if (values.demo) {
    const demo = await ensureDemo();
    return {
      config: demo.config,
      users: { passwd: demo.users },
      maildirRoot: demo.maildirRoot,
      stateDir: demo.stateDir,
      adminSocket: values['admin-socket'] ?? demo.adminSocket,
      drainSeconds,
      hostname: values.hostname ?? 'localhost',
      metricsListen,
      demo: true,
      dovecotUidlFormat,
      ...(adminTls === undefined ? {} : { adminTls }),
    };
  }
  if (values.users !== undefined && values.userdb !== undefined)
    throw new UsageError('--users and --userdb exclude each other: give one source of users');
  const missing = [
    ...(values.users === undefined && values.userdb === undefined ? ['--users (or --userdb)'] : []),
    ...(['maildir-root', 'state-dir'] as const).filter((name) => values[name] === undefined).map((n) => `--${n}`),
  ];
  if (missing.length > 0) throw new UsageError(`missing ${missing.join(', ')}`);
  const stateDir = resolve(values['state-dir']!);
  return {
    config: values.config === undefined ? undefined : resolve(values.config),
    users: values.userdb !== undefined ? { userdb: resolve(values.userdb) } : { passwd: resolve(values.users!) },
    maildirRoot: resolve(values['maildir-root']!),
    stateDir,
    adminSocket: resolve(values['admin-socket'] ?? join(stateDir, 'admin.sock')),
    drainSeconds,
    hostname: values.hostname ?? hostname(),
    metricsListen,
    demo: false,
    dovecotUidlFormat,
    ...(adminTls === undefined ? {} : { adminTls }),
  };
}

/** --uidl and --uidl-format: the format for `dovecot`, undefined for `maildir` (the default). */
function uidlFormat(mode: string | undefined, format: string | undefined): string | undefined {
  if (mode !== undefined && mode !== 'maildir' && mode !== 'dovecot')
    throw new UsageError(`--uidl must be maildir or dovecot, not ${JSON.stringify(mode)}`);
  if (mode !== 'dovecot') {
    if (format !== undefined) throw new UsageError('--uidl-format needs --uidl dovecot');
    return undefined;
  }
  try {
    compileUidlFormat(format ?? DEFAULT_UIDL_FORMAT);
    return format ?? DEFAULT_UIDL_FORMAT;
  } catch (error) {
    if (error instanceof UidlFormatError) throw new UsageError(error.message);
    throw error;
  }
}

/** The configuration to start with, and whether it came from the state directory. */
async function initialConfig(
  options: Options,
  store: ConfigStore,
  log: Logger,
): Promise<{ config: CanonicalConfig; generation: number; persisted: boolean; owner: Owner | null }> {
  const persisted = (await store.load()) as { generation?: number; config?: unknown; owner?: unknown } | undefined;
  if (persisted !== undefined) {
    const result = parseConfig(persisted.config);
    if (!result.ok)
      throw new Error(
        `${store.path} holds an invalid configuration:\n${formatIssues(result.issues)}\nmove it aside to start from --config`,
      );
    log.info('config.persisted_wins', { path: store.path, generation: persisted.generation, ignored: options.config });
    const owner = persisted.owner === undefined ? null : parseOwner(persisted.owner, `${store.path}: owner`);
    return { config: result.config, generation: persisted.generation ?? 1, persisted: true, owner };
  }
  if (options.config === undefined)
    throw new UsageError(
      `no configuration applied yet in ${options.stateDir}: give --config <file.json> for the first start`,
    );
  let text: string;
  try {
    text = await readFile(options.config, 'utf8');
  } catch (error) {
    throw new Error(
      `cannot read --config ${options.config}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`--config ${options.config} is not JSON: ${(error as Error).message}`);
  }
  const result = parseConfig(json);
  if (!result.ok) throw new Error(`--config ${options.config} is invalid:\n${formatIssues(result.issues)}`);
  log.info('config.seeded', { path: options.config });
  return { config: result.config, generation: 1, persisted: false, owner: null };
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const log = createLogger(new BatchedLogStream(process.stdout), { service: 'pop3d' });
  let options: Options | 'version';
  try {
    options = await parseOptions(argv);
  } catch (error) {
    const message =
      error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
        ? (error as Error).message
        : undefined;
    if (message === undefined) throw error;
    process.stderr.write(`${message ? `pop3d: ${message}\n\n` : ''}${USAGE}\n`);
    process.exitCode = message ? 2 : 0;
    return;
  }
  if (options === 'version') {
    process.stdout.write(`pop3d ${VERSION}\n`);
    return;
  }

  try {
    await run(options, log);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log.error('pop3d.start_failed', { reason: message });
    process.stderr.write(`pop3d: ${message}\n`);
    process.exit(1);
  }
}

/** The user database: a passwd-file read once now (so a missing one stops the start), or the SQL userdb. */
async function openUsers(options: Options, log: Logger): Promise<UserDatabase> {
  if ('passwd' in options.users) {
    const passwd = new PasswdFileDatabase(options.users.passwd, log);
    await passwd.current();
    return passwd;
  }
  const file = options.users.userdb;
  const sql = new PostgresUserDatabase(await loadUserDbConfig(file), log);
  // A database down at start is not fatal: logins get [SYS/TEMP] until it answers.
  await sql.ping().then(
    () => log.info('userdb.ready', { file }),
    () => log.warn('userdb.not_ready', { file }),
  );
  return sql;
}

async function run(options: Options, log: Logger): Promise<void> {
  // Before anything reads or writes the state directory (or the admin socket).
  lockStateDir(options.stateDir);
  const users = await openUsers(options, log);
  const store = new ConfigStore(options.stateDir);
  const instanceId = await loadOrCreateInstanceId(options.stateDir);
  const { config, generation, persisted, owner } = await initialConfig(options, store, log);

  const server = new Pop3Server({
    log,
    environment: {
      mailstore: new MaildirStore({
        root: options.maildirRoot,
        log,
        uidls: options.dovecotUidlFormat === undefined ? undefined : new DovecotUidls(options.dovecotUidlFormat, log),
        markRetrievedSeen: options.dovecotUidlFormat !== undefined,
        stateDir: options.stateDir,
      }),
      users,
      loginThrottle: new LoginThrottle(),
      log,
      hostname: options.hostname,
    },
  });
  const controller = new ConfigController(server, store, log);
  let tlsListener: AdminTlsListener | undefined;
  server.metrics.watch({
    version: VERSION,
    startedAt: server.startedAt,
    listeners: () => server.listenerStatus().map((m) => m.key),
    generation: () => controller.currentGeneration,
    applies: () => controller.applyCounts,
    adminHandshakeFailures: () => tlsListener?.handshakeFailures ?? 0,
  });
  try {
    await controller.start(config, generation, !persisted, owner);
  } catch (error) {
    const body = (error as { toBody?: () => { issues?: Array<{ path: string; message: string }> } }).toBody?.();
    const detail = body?.issues ? `\n${formatIssues(body.issues as never)}` : '';
    throw new Error(`cannot start: ${(error as Error).message}${detail}`);
  }

  const history = new ApplyHistory(log);
  let adminListen: { address: string; port: number } | undefined;
  const admin = createAdminApi({
    controller,
    status: () =>
      statusReport(server, controller, VERSION, instanceId, {
        recentApplies: () => history.recent(),
        handshakeFailures: () => tlsListener?.handshakeFailures ?? 0,
        ...(adminListen === undefined ? {} : { listen: adminListen }),
      }),
    instanceId,
    metrics: server.metrics,
    log,
    history,
    identify: (request) => tlsListener?.identityOf(request) ?? UNIX_IDENTITY,
  });
  await listenOnUnixSocket(admin, options.adminSocket);
  const metricsServer =
    options.metricsListen === undefined ? undefined : await listenForMetrics(server.metrics, options.metricsListen);
  if (options.adminTls) {
    const tlsOptions = await readAdminTls(options.adminTls);
    try {
      tlsListener = new AdminTlsListener(tlsOptions, admin, log);
      adminListen = await tlsListener.listen();
    } catch (error) {
      const { host, port } = options.adminTls.listen;
      throw new Error(
        `cannot serve --admin-listen ${host}:${port}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  }
  log.info('pop3d.ready', {
    version: VERSION,
    instanceId,
    pid: process.pid,
    adminSocket: options.adminSocket,
    metricsListen: options.metricsListen,
    ...(adminListen === undefined ? {} : { adminListen: `${adminListen.address}:${adminListen.port}` }),
    listeners: server.listenerStatus().map((m) => m.key),
    generation: controller.currentGeneration,
  });
  if (options.demo) process.stderr.write(demoInstructions(demoPaths()));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('pop3d.draining', { signal, sessions: server.openSessions().size, graceSeconds: options.drainSeconds });
    admin.close();
    metricsServer?.close();
    tlsListener?.close();
    void server.shutdown(options.drainSeconds * 1000).then(() => {
      log.info('pop3d.stopped', { signal });
      // Give the terminated sessions' last lines a moment to flush.
      setTimeout(() => process.exit(0), 50).unref();
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
