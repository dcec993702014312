/**
 * A private PostgreSQL cluster for tests: Debian's server binaries
 * (/usr/lib/postgresql/15/bin), initdb in a temp directory, listening on a
 * Unix socket in that directory only (no TCP), run as the unprivileged
 * `postgres` user when the tests run as root. Stop and start it again to
 * test a database that goes away and comes back.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResultPromise } from 'execa' with { 'resolution-mode': 'import' };

const BIN = '/usr/lib/postgresql/15/bin';

export interface PostgresCluster {
  /** The directory holding the socket (`host=` of a connection string). */
  socketDir: string;
  port: number;
  /** Runs SQL as the superuser; returns psql's unaligned, tuples-only output. */
  sql(text: string, database?: string): string;
  start(): Promise<void>;
  /** Fast shutdown; resolves when the server has exited. */
  stop(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

/** The account the server runs as: `postgres` when we are root (initdb refuses root), else ourselves. */
function asServerUser(command: string[]): string[] {
  if (process.getuid?.() !== 0) return command;
  return ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--', ...command];
}

export async function startPostgres(): Promise<PostgresCluster> {
  const { execa } = await import('execa');
  const dir = mkdtempSync(join(tmpdir(), 'pop3d-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const [initdb, ...initArgs] = asServerUser([
    `${BIN}/initdb`,
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  execFileSync(initdb!, initArgs, { stdio: 'ignore' });
  // Only a Unix socket, so the port is just the socket's name: any number that no other cluster in `dir` uses.
  const port = 20000 + Math.floor(Math.random() * 40000);
  let server: ResultPromise | undefined;
  let log = '';

  const psql = (text: string, database = 'postgres'): string =>
    execFileSync(
      `${BIN}/psql`,
      ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', text],
      { encoding: 'utf8' },
    );

  const cluster: PostgresCluster = {
    socketDir: dir,
    port,
    sql: psql,
    async start() {
      const [cmd, ...args] = asServerUser([
        `${BIN}/postgres`,
        '-D',
        data,
        '-k',
        dir,
        '-p',
        String(port),
        '-c',
        'listen_addresses=',
        '-c',
        'fsync=off',
      ]);
      server = execa(cmd!, args, { reject: false, buffer: false, stdin: 'ignore' });
      server.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
      server.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          execFileSync(`${BIN}/pg_isready`, ['-q', '-h', dir, '-p', String(port)]);
          return;
        } catch {
          if (Date.now() > deadline) throw new Error(`PostgreSQL did not start:\n${log}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s === undefined) return;
      // SIGINT: "fast" shutdown, sessions are ended at once.
      s.kill('SIGINT');
      await s;
    },
    async destroy() {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}
