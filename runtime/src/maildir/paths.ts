/**
 * Which directories a login may name: a user name as a directory under the
 * Maildir root, or a Maildir path from the user database below it. Neither
 * can lead outside the root; symlinks inside it are refused at open
 * (MaildirStore.resolve).
 */
import * as path from 'node:path';
import { InvalidMaildirPathError } from './errors';

/** Longest Maildir path a user database may name, in octets. */
const MAX_MAILDIR_PATH = 1024;

/**
 * Whether `user` can name a directory under the Maildir root: 1-255 octets,
 * not `.` or `..`, no `/`, NUL or other control character.
 */
export function isValidMailboxUser(user: string): boolean {
  if (user === '' || user === '.' || user === '..' || Buffer.byteLength(user) > 255) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u001f\u007f/]/.test(user);
}

/**
 * `<root>/<maildir>` for a Maildir named by the user database (PostfixAdmin's
 * `example.org/user/`): relative, no `.` or `..` segment, no control
 * character, so it can never name a directory outside the root (symlinks
 * inside the root are the Maildir code's concern). Throws
 * InvalidMaildirPathError.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_MAILDIR_CHAR = /[\u0000-\u001f\u007f\\]/;

export function maildirBelowRoot(root: string, maildir: string): string {
  const bad = maildir === '' || Buffer.byteLength(maildir) > MAX_MAILDIR_PATH || UNSAFE_MAILDIR_CHAR.test(maildir);
  const segments = maildir.split('/').filter((s) => s !== '');
  if (bad || maildir.startsWith('/') || segments.length === 0 || segments.some((s) => s === '.' || s === '..'))
    throw new InvalidMaildirPathError(maildir);
  return path.join(root, ...segments);
}
