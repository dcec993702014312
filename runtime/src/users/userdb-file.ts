/**
 * The `--userdb FILE.json` file: which database holds the users and how to
 * ask it (runtime/README.md, "Users in PostgreSQL"):
 *
 *   { "driver": "postgresql",
 *     "connection": "postgresql://pop3d@/mail?host=/run/postgresql",
 *     "passwordQuery": "SELECT password, maildir FROM mailbox WHERE username = $1 AND active" }
 *
 * The connection string may hold a password, so the file is refused when its
 * group or others may read it.
 */
import { promises as fsp } from 'node:fs';

export interface UserDbConfig {
  driver: 'postgresql';
  /** A libpq connection URI (node-postgres parses it). */
  connection: string;
  /** Parameterised: `$1` is the user name. Returns the columns `password` and, optionally, `maildir`. */
  passwordQuery: string;
}

/** The userdb file cannot be used; the message names the file and the field. */
class UserDbConfigError extends Error {
  readonly code = 'USERDB_CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'UserDbConfigError';
  }
}

const FIELDS = ['driver', 'connection', 'passwordQuery'] as const;

/** Reads and checks the userdb file (mode, JSON, every field). */
export async function loadUserDbConfig(file: string): Promise<UserDbConfig> {
  let text: string;
  try {
    const fh = await fsp.open(file, 'r');
    try {
      // Checked on the open descriptor: the file read is the file whose mode was checked.
      const st = await fh.stat();
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      if (!st.isFile()) throw new UserDbConfigError(`--userdb ${file} is not a regular file`);
      if ((st.mode & 0o044) !== 0)
        throw new UserDbConfigError(
          `--userdb ${file} is readable by group or others (mode ${mode}); it may hold a database password: chmod 600 it`,
        );
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof UserDbConfigError) throw err;
    throw new UserDbConfigError(`cannot read --userdb ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserDbConfigError(`--userdb ${file} is not JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new UserDbConfigError(`--userdb ${file}: expected an object with ${FIELDS.join(', ')}`);
  const o = json as Record<string, unknown>;
  for (const key of Object.keys(o))
    if (!(FIELDS as readonly string[]).includes(key))
      throw new UserDbConfigError(`--userdb ${file}: unknown field "${key}" (known: ${FIELDS.join(', ')})`);
  if (o.driver !== 'postgresql')
    throw new UserDbConfigError(`--userdb ${file}: "driver" must be "postgresql" (the one driver there is)`);
  if (typeof o.connection !== 'string' || !/^postgres(ql)?:\/\//.test(o.connection))
    throw new UserDbConfigError(`--userdb ${file}: "connection" must be a postgresql:// URI`);
  if (typeof o.passwordQuery !== 'string' || !/\$1(?!\d)/.test(o.passwordQuery))
    throw new UserDbConfigError(`--userdb ${file}: "passwordQuery" must be a query taking the user name as $1`);
  if (/\$(?:[2-9]|1\d)/.test(o.passwordQuery))
    throw new UserDbConfigError(`--userdb ${file}: "passwordQuery" may use only $1 (the user name)`);
  return { driver: 'postgresql', connection: o.connection, passwordQuery: o.passwordQuery };
}
