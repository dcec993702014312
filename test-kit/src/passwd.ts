/**
 * Writes passwd-files for tests.
 */
import { promises as fsp } from 'node:fs';

/**
 * Writes `file` with one line per user. A value starting with `{` is written
 * as is (a hashed field); anything else is written as `{PLAIN}<value>`.
 */
export async function writePasswdFile(file: string, users: Readonly<Record<string, string>>): Promise<void> {
  const lines = Object.entries(users).map(([name, pw]) => `${name}:${pw.startsWith('{') ? pw : '{PLAIN}' + pw}`);
  await fsp.writeFile(file, lines.join('\n') + '\n', { mode: 0o600 });
}
