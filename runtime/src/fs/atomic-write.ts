/**
 * Replacing a file so that a crash at any moment leaves either the old file
 * or the new one, never a torn one: a temp file in the same directory
 * (`.<name>.<12 hex>.tmp`, created exclusively, mode 0600), fsync, rename over
 * the old file, fsync of the directory. Used by the config store and the
 * passwd-file writer; both files may hold secrets, hence 0600.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The names writeFileAtomic() gives its temp files for `file`. */
function atomicTempPattern(file: string): RegExp {
  return new RegExp(`^\\.${escapeRegExp(basename(file))}\\.[0-9a-f]{12}\\.tmp$`);
}

export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(data, 'utf8');
    // The mode given to open() is masked by the umask; the file must end up 0600 whatever it is.
    await handle.chmod(0o600);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/**
 * Removes temp files for `file` left by writes a crash interrupted (each may
 * hold a copy of a secret). Called at start-up, before anything writes.
 */
export async function removeInterruptedWrites(file: string): Promise<void> {
  const dir = dirname(file);
  const pattern = atomicTempPattern(file);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) if (pattern.test(name)) await unlink(join(dir, name)).catch(() => undefined);
}
