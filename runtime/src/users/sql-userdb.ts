/**
 * Users in PostgreSQL (node-postgres): one parameterised query per login,
 * `passwordQuery` with the user name as `$1`, returning `password` (Dovecot's
 * notation, credentials.ts) and optionally `maildir` (the Maildir itself,
 * relative to --maildir-root, as PostfixAdmin stores `example.org/user/`).
 *
 * No row: an unknown user (an inactive one too, when the query filters on
 * `active`). More than one row: the user cannot log in (logged). Any failure
 * to get an answer (no connection within CONNECT_TIMEOUT_MS, a statement
 * over STATEMENT_TIMEOUT_MS, a query error) is UserDatabaseUnavailableError,
 * which the client sees as `[SYS/TEMP]`, never `[AUTH]`. The pool drops
 * broken connections and opens new ones at the next login, so pop3d recovers
 * by itself when the database is back.
 *
 * Unknown users: no hash of theirs is known, so the cost classes are learned
 * from the rows read (one count per user name, unknown-user.ts); until a row
 * was read, an unknown user costs one SHA512-CRYPT.
 */
import type pg from 'pg';
import { type Logger, nullLogger } from '../log';
import { type CryptRunner, sharedCryptPool } from './crypt-pool';
import { type Credential, parseCredential } from './credentials';
import { UnknownUserCost } from './unknown-user';
import { type UserDatabase, UserDatabaseUnavailableError, type VerifyResult, checkLogin } from './user-database';
import type { UserDbConfig } from './userdb-file';

/** Longest wait for a connection (new or from the pool), in milliseconds. 5 s. */
const CONNECT_TIMEOUT_MS = 5 * 1000;
/** Longest a password query may run on the server (statement_timeout), in milliseconds. 5 s. */
const STATEMENT_TIMEOUT_MS = 5 * 1000;
/** Client-side bound on a query, for a server that stops answering altogether, in milliseconds. 6 s. */
const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 1000;
/** Connections at most. 4: logins are short queries; the crypt workers are the bottleneck. */
const POOL_SIZE = 4;
/** An idle connection is closed after this long, in milliseconds. 30 s. */
const IDLE_TIMEOUT_MS = 30 * 1000;
/** User names whose cost class is remembered (see UnknownUserCost), at most. */
const MAX_REMEMBERED_USERS = 100_000;

export class PostgresUserDatabase implements UserDatabase {
  private readonly pool: pg.Pool;
  private readonly crypt: CryptRunner;
  private readonly unknown = new UnknownUserCost();
  /** The credential last read for each user name, as counted in `unknown`. */
  private readonly seen = new Map<string, Credential>();

  /** @param opts.crypt where hashes are checked; default the process-wide worker pool. */
  constructor(
    private readonly config: UserDbConfig,
    private readonly log: Logger = nullLogger,
    opts: { crypt?: CryptRunner } = {},
  ) {
    this.crypt = opts.crypt ?? sharedCryptPool();
    // Required here, not at the top: only a daemon started with --userdb pays for loading the driver.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Pool } = require('pg') as typeof pg;
    this.pool = new Pool({
      connectionString: config.connection,
      max: POOL_SIZE,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: IDLE_TIMEOUT_MS,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      application_name: 'pop3d',
      // Idle connections must not keep a draining pop3d alive.
      allowExitOnIdle: true,
    });
    // An idle connection that breaks (server restart) is dropped by the pool; without a listener it would crash pop3d.
    this.pool.on('error', (err) => this.log.warn('userdb.connection_lost', { error: err }));
  }

  async verify(user: string, password: Buffer | string): Promise<VerifyResult> {
    const row = await this.lookup(user);
    let credential: Credential | null | undefined;
    let maildir: string | undefined;
    if (row !== undefined) {
      credential = typeof row.password === 'string' ? (parseCredential(row.password) ?? null) : null;
      if (credential === null) this.log.warn('userdb.hash_unusable', { user });
      else this.remember(user, credential);
      if (typeof row.maildir === 'string' && row.maildir !== '') maildir = row.maildir;
    }
    const verdict = await checkLogin(credential, this.unknown, user, password, this.crypt);
    if (verdict !== 'ok') return { ok: false, reason: verdict };
    return maildir === undefined ? { ok: true, user } : { ok: true, user, maildir };
  }

  /** Runs a query that must succeed (start-up check); throws UserDatabaseUnavailableError. */
  async ping(): Promise<void> {
    await this.query('SELECT 1', []);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** The user's row; undefined when there is none, null password when several rows matched. */
  private async lookup(user: string): Promise<{ password?: unknown; maildir?: unknown } | undefined> {
    const rows = await this.query(this.config.passwordQuery, [user]);
    if (rows.length === 0) return undefined;
    if (rows.length > 1) {
      this.log.warn('userdb.user_ambiguous', { user, rows: rows.length });
      return { password: undefined };
    }
    const row = rows[0]!;
    if (!('password' in row)) {
      this.log.error('userdb.query_invalid', { reason: 'the passwordQuery returns no "password" column' });
      throw new UserDatabaseUnavailableError('the passwordQuery returns no "password" column');
    }
    return row;
  }

  private async query(text: string, values: unknown[]): Promise<Array<Record<string, unknown>>> {
    try {
      const result = await this.pool.query<Record<string, unknown>>({ text, values });
      return result.rows;
    } catch (err) {
      this.log.error('userdb.unavailable', { error: err });
      throw new UserDatabaseUnavailableError('the user database cannot be queried', { cause: err });
    }
  }

  private remember(user: string, credential: Credential): void {
    const before = this.seen.get(user);
    if (before !== undefined && before.cost === credential.cost) return;
    if (before === undefined && this.seen.size >= MAX_REMEMBERED_USERS) return;
    if (before !== undefined) this.unknown.remove(before);
    this.seen.set(user, credential);
    this.unknown.add(credential);
  }
}
