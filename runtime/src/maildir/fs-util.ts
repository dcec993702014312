/** File system helpers shared by the scan, the store and the mailbox. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MailboxUnavailableError } from './errors';

/** File system operations run at once during a scan or an expunge. */
export const FS_CONCURRENCY = 8;
/** Directory and file mode for what we create. */
const DIR_MODE = 0o700;

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function mkdirIfMissing(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { mode: DIR_MODE });
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
  }
}

/** Creates the Maildir `dir` and the folders above it under `root` (first login of a user who never got mail). */
export async function createMaildir(root: string, dir: string): Promise<void> {
  try {
    await fsp.stat(root);
  } catch (err) {
    throw new MailboxUnavailableError(`the Maildir root ${root} is not accessible`, { cause: err });
  }
  let at = root;
  for (const segment of path.relative(root, dir).split(path.sep)) {
    at = path.join(at, segment);
    await mkdirIfMissing(at);
  }
  for (const sub of ['cur', 'new', 'tmp']) await mkdirIfMissing(path.join(dir, sub));
}
