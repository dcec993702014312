/**
 * Builds real Maildirs in a temp directory for tests.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface MessageSpec {
  content: string | Buffer;
  /** File name (unique name, plus ":2,..." for cur/). Default: `<1700000000+i>.M<i>P1.test[:2,]`. */
  name?: string;
  /** Default 'cur'. */
  dir?: 'new' | 'cur';
}

export interface BuiltMaildir {
  /** `<root>/<user>/Maildir` */
  dir: string;
  /** Paths of the message files written, in the order given. */
  files: string[];
}

/** Writes `<root>/<user>/Maildir/{new,cur,tmp}` and one file per message. */
export async function makeMaildir(
  root: string,
  user: string,
  messages: ReadonlyArray<string | Buffer | MessageSpec>,
): Promise<BuiltMaildir> {
  const dir = path.join(root, user, 'Maildir');
  for (const sub of ['new', 'cur', 'tmp']) await fsp.mkdir(path.join(dir, sub), { recursive: true, mode: 0o700 });
  const files: string[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const spec: MessageSpec = typeof m === 'string' || Buffer.isBuffer(m) ? { content: m } : m;
    const where = spec.dir ?? 'cur';
    const unique = `${1700000000 + i}.M${i}P1.test`;
    const name = spec.name ?? (where === 'cur' ? `${unique}:2,` : unique);
    const file = path.join(dir, where, name);
    await fsp.writeFile(file, spec.content);
    files.push(file);
  }
  return { dir, files };
}

/** A fresh temp directory; remove it with removeTempDir. */
export async function makeTempDir(prefix = 'pop3-test-'): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeTempDir(dir: string): Promise<void> {
  await fsp.rm(dir, { recursive: true, force: true });
}

/** Names of the message files in new/ and cur/ (no dotfiles), sorted. */
export async function listMessages(maildir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    for (const name of await fsp.readdir(path.join(maildir, sub)))
      if (!name.startsWith('.')) out.push(`${sub}/${name}`);
  }
  return out.sort();
}
