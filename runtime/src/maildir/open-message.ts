/**
 * The only way a message file is opened for reading (serving, measuring, in
 * the main thread or the file-system worker). A Maildir is written by its
 * user, so a name in it may be a symlink (to another user's mail, to the
 * passwd-file, to /dev/zero), a FIFO (open() would wait for a writer) or a
 * device. O_NOFOLLOW refuses a symlink as the last component, O_NONBLOCK
 * makes opening a FIFO or a device return at once, and fstat() on the open
 * descriptor (not a stat() of the name, which could be swapped in between)
 * keeps only regular files. The listing skips such entries already; this is
 * what holds when one is renamed over a listed message.
 */
import { closeSync, constants, fstatSync, openSync, promises as fsp, readFileSync } from 'node:fs';

/** Read-only, no symlink, never blocking in open(). O_NONBLOCK changes nothing for reads of a regular file. */
const MESSAGE_OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** A Maildir entry that is not a regular file (a FIFO, a device, a directory), found on the open descriptor. */
class NotARegularFileError extends Error {
  readonly code = 'NOT_A_REGULAR_FILE';
  constructor(file: string) {
    super(`${file} is not a regular file`);
    this.name = 'NotARegularFileError';
  }
}

/** Whether `err` says the entry is not a message file pop3d will read: a symlink (ELOOP) or not a regular file. */
export function isRefusedEntry(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ELOOP' || code === 'NOT_A_REGULAR_FILE';
}

/** Opens a message file as a descriptor; throws ELOOP, NotARegularFileError or the open() error. */
export function openMessageSync(file: string): number {
  const fd = openSync(file, MESSAGE_OPEN_FLAGS);
  let regular = false;
  try {
    regular = fstatSync(fd).isFile();
  } finally {
    if (!regular) closeSync(fd);
  }
  if (!regular) throw new NotARegularFileError(file);
  return fd;
}

/** openMessageSync for the asynchronous path (a FileHandle). */
export async function openMessage(file: string): Promise<fsp.FileHandle> {
  const fh = await fsp.open(file, MESSAGE_OPEN_FLAGS);
  let regular = false;
  try {
    regular = (await fh.stat()).isFile();
  } finally {
    if (!regular) await fh.close();
  }
  if (!regular) throw new NotARegularFileError(file);
  return fh;
}

/**
 * The whole of a small file that a Maildir's user could have replaced (the
 * mailbox lock file, `dovecot-uidlist`): opened as a message is, so a FIFO,
 * a device or a symlink put in its place fails at once instead of stalling
 * the daemon or reading another file.
 */
export function readMaildirFileSync(file: string): string {
  const fd = openMessageSync(file);
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** readMaildirFileSync for the asynchronous path. */
export async function readMaildirFile(file: string): Promise<string> {
  const fh = await openMessage(file);
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}
