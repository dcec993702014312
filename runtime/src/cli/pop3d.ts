/**
 * pop3d: the daemon's command line. Seeds the first start from --config,
 * resumes the persisted configuration after that, serves POP3 on the
 * configured listeners and the admin API on a Unix socket, drains on SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatIssues, parseConfig, type CanonicalConfig } from '@pop3-iac/schema';
import { ConfigController } from '../admin/config-controller';
import { ConfigStore } from '../admin/config-store';
import { loadOrCreateInstanceId } from '../admin/instance-id';
import { createAdminApi } from '../admin/http-api';
import { statusReport } from '../admin/status';
import { listenOnUnixSocket } from '../admin/unix-socket';
import { demoInstructions, demoPaths, ensureDemo } from '../demo/demo-setup';
import { createLogger, type Logger } from '../log';
import { BatchedLogStream } from '../log-batch';
import { MaildirStore } from '../maildir';
import { Pop3Server } from '../server/pop3-server';
import { LoginThrottle, PasswdFileDatabase, PostgresUserDatabase, type UserDatabase, loadUserDbConfig } from '../users';
import { VERSION } from '../version';

/** How long SIGTERM waits for sessions to QUIT on their own before ending them, in seconds. */
const DEFAULT_DRAIN_SECONDS = 10;

const USAGE = `usage: pop3d --config <file.json> (--users <passwd-file> | --userdb <file.json>) --maildir-root <dir>
             --state-dir <dir> [--admin-socket <path>] [--drain-seconds <n>] [--hostname <name>]
       pop3d --demo        run on the embedded demo configuration (loopback, ports ${1110}/${1995})
       pop3d --version

The Maildir of user u is <maildir-root>/u/Maildir. --config seeds the first start;
after that the configuration last applied through the admin API (kept in --state-dir) wins.
Without --admin-socket the socket is <state-dir>/admin.sock.`;

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
  demo: boolean;
}

async function parseOptions(argv: string[]): Promise<Options | 'version'> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      users: { type: 'string' },
      userdb: { type: 'string' },
      'maildir-root': { type: 'string' },
      'state-dir': { type: 'string' },
      'admin-socket': { type: 'string' },
      'drain-seconds': { type: 'string' },
      hostname: { type: 'string' },
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
      demo: true,
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
    demo: false,
  };
}

/** The configuration to start with, and whether it came from the state directory. */
async function initialConfig(
  options: Options,
  store: ConfigStore,
  log: Logger,
): Promise<{ config: CanonicalConfig; generation: number; persisted: boolean }> {
  const persisted = (await store.load()) as { generation?: number; config?: unknown } | undefined;
  if (persisted !== undefined) {
    const result = parseConfig(persisted.config);
    if (!result.ok)
      throw new Error(
        `${store.path} holds an invalid configuration:\n${formatIssues(result.issues)}\nmove it aside to start from --config`,
      );
    log.info('config.persisted_wins', { path: store.path, generation: persisted.generation, ignored: options.config });
    return { config: result.config, generation: persisted.generation ?? 1, persisted: true };
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
  return { config: result.config, generation: 1, persisted: false };
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
  const users = await openUsers(options, log);
  const store = new ConfigStore(options.stateDir);
  const instanceId = await loadOrCreateInstanceId(options.stateDir);
  const { config, generation, persisted } = await initialConfig(options, store, log);

  const server = new Pop3Server({
    log,
    environment: {
      mailstore: new MaildirStore({ root: options.maildirRoot, log }),
      users,
      loginThrottle: new LoginThrottle(),
      log,
      hostname: options.hostname,
    },
  });
  const controller = new ConfigController(server, store, log);
  try {
    await controller.start(config, generation, !persisted);
  } catch (error) {
    const body = (error as { toBody?: () => { issues?: Array<{ path: string; message: string }> } }).toBody?.();
    const detail = body?.issues ? `\n${formatIssues(body.issues as never)}` : '';
    throw new Error(`cannot start: ${(error as Error).message}${detail}`);
  }

  const admin = createAdminApi({
    controller,
    status: () => statusReport(server, controller, VERSION, instanceId),
    log,
  });
  await listenOnUnixSocket(admin, options.adminSocket);
  log.info('pop3d.ready', {
    version: VERSION,
    instanceId,
    pid: process.pid,
    adminSocket: options.adminSocket,
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
    void server.shutdown(options.drainSeconds * 1000).then(() => {
      log.info('pop3d.stopped', { signal });
      // Give the terminated sessions' last lines a moment to flush.
      setTimeout(() => process.exit(0), 50).unref();
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
