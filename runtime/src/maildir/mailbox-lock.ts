/**
 * The mailbox lock that holds across processes and hosts sharing one Maildir
 * tree: a file `pop3d.lock` in the Maildir, created with O_EXCL, holding who
 * took it (host name, boot id, pid, the process's start time, a random
 * token). While a session holds it, its mtime is refreshed every
 * LOCK_REFRESH_MS.
 *
 * A lock is stale, and is broken, when:
 *  - it was taken on this host in this boot (same host name and boot id) and
 *    its process is gone (or the pid now belongs to a process started at
 *    another time): at once, so a `kill -9` frees the mailbox for the next
 *    login on this host;
 *  - it was taken elsewhere (another host, or this host before a reboot) and
 *    its mtime is older than LOCK_STALE_MS (the host died, or lost the file
 *    system). Clocks of hosts sharing the tree must agree within a fraction
 *    of that (NTP).
 *  - it cannot be read as a lock and is older than BREAK_STALE_MS (a crash
 *    between create and write).
 * Breaking is serialised by a second O_EXCL file, `pop3d.lock.break`: the
 * breaker re-reads the lock under it and removes it only if it still holds
 * the token judged stale, so two breakers never both win.
 *
 * Needs from the file system: an atomic exclusive create (O_CREAT|O_EXCL)
 * and mtimes that other hosts see: a local file system, or NFSv3 and later
 * (NFSv2 has no exclusive create). This is what Dovecot's dotlocks need too.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants as fsc,
  fstatSync,
  linkSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import type { Logger } from '../log';
import { errno } from './fs-util';
import { readMaildirFileSync } from './open-message';

/** The lock file's name in the Maildir (beside new/, cur/, tmp/, where no client looks). */
export const LOCK_FILE = 'pop3d.lock';
/** How often a held lock's mtime is refreshed, in milliseconds. 30 s. */
const LOCK_REFRESH_MS = 30 * 1000;
/** A lock from another host (or an earlier boot) not refreshed for this long is stale, in milliseconds. 2 min. */
export const LOCK_STALE_MS = 2 * 60 * 1000;
/** A break file or unreadable lock older than this is left over from a crash, in milliseconds. 10 s. */
const BREAK_STALE_MS = 10 * 1000;

interface LockOwner {
  host: string;
  boot: string;
  pid: number;
  /** The process's start time, in clock ticks after boot (/proc/<pid>/stat field 22); '' when unknown. */
  start: string;
  token: string;
  /** When it was taken, ISO 8601 (for the operator who finds the file). */
  since: string;
}

/** A lock this process holds. */
export interface HeldMailboxLock {
  /** Removes the lock file if it is still ours. Synchronous, so a client answered after it may log in elsewhere at once. */
  release(): void;
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

const BOOT_ID = readOrEmpty('/proc/sys/kernel/random/boot_id');
/** Read once: each read is a system call (uname, getpid), and a login takes a lock. */
const HOST = os.hostname();
const PID = process.pid;

/** Start time of `pid` from /proc (Linux), '' when it cannot be read. */
function processStart(pid: number): string {
  const stat = readOrEmpty(`/proc/${pid}/stat`);
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? '';
}

const SELF_START = processStart(PID);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return errno(err) === 'EPERM';
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.host !== 'string' || typeof o.pid !== 'number' || typeof o.token !== 'string') return undefined;
    return { boot: '', start: '', since: '', ...o } as LockOwner;
  } catch {
    return undefined;
  }
}

/** Why the lock at `file` may be broken, or undefined while it is held. */
function staleReason(owner: LockOwner | undefined, mtimeMs: number, now: number): string | undefined {
  if (owner === undefined) return now - mtimeMs > BREAK_STALE_MS ? 'unreadable' : undefined;
  if (owner.host === HOST && owner.boot === BOOT_ID && BOOT_ID !== '') {
    if (owner.pid === PID && owner.start === SELF_START) return undefined;
    if (!alive(owner.pid)) return 'process gone';
    const start = processStart(owner.pid);
    if (owner.start !== '' && start !== '' && start !== owner.start) return 'pid reused';
    return undefined;
  }
  return now - mtimeMs > LOCK_STALE_MS ? 'not refreshed' : undefined;
}

/**
 * Creates `file` holding `content` if nothing is there: which file it made
 * (device, inode, birth time), or undefined when one exists.
 */
function createExclusive(file: string, content: string): FileIdentity | undefined {
  let fd: number;
  try {
    fd = openSync(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  } catch (err) {
    if (errno(err) === 'EEXIST') return undefined;
    throw err;
  }
  try {
    writeSync(fd, content);
    return identityOf(fstatSync(fd, { bigint: true }));
  } finally {
    closeSync(fd);
  }
}

/**
 * What tells one file at a name from another made there later: the inode,
 * which the file system may reuse once a file is gone, with its birth time
 * (0 where the file system keeps none, as NFS may).
 */
type FileIdentity = string;

function identityOf(stat: BigIntStats): FileIdentity {
  return `${stat.dev}:${stat.ino}:${stat.birthtimeNs}`;
}

function unlinkIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
  }
}

/**
 * What a lock is made from: one file made at start in the daemon's state
 * directory, holding the owner record; taking a Maildir's lock is a hard
 * link from its `pop3d.lock` to it. link() is as atomic and exclusive as an
 * O_EXCL create (on NFS too), and taking and releasing a lock then allocates
 * and frees no inode: on ext4, the inode allocator's scan of recently freed
 * inodes was a fifth of a login's CPU with a file created and removed per
 * session. Where no link can be made (Maildirs on another file system than
 * the state directory, as on NFS; no hard links), the lock is a file of its
 * own, created with O_EXCL, as without a source.
 */
export class LockSource {
  private identity: FileIdentity = '';

  private constructor(readonly file: string) {}

  /**
   * The source in `stateDir`, made now (the state directory is this
   * daemon's alone: a file there is from an earlier run). Undefined when it
   * cannot be made: every lock is then a file of its own.
   */
  static open(stateDir: string, log: Logger): LockSource | undefined {
    const source = new LockSource(`${stateDir}/${SOURCE_FILE}`);
    try {
      source.make();
    } catch (err) {
      log.warn('mailbox.lock_source_unavailable', { file: source.file, error: err });
      return undefined;
    }
    process.once('exit', () => unlinkIfPresent(source.file));
    return source;
  }

  /** Links `file` to the source: what it links, undefined when `file` exists, 'unlinkable' when no link can be made. */
  link(file: string): FileIdentity | undefined | 'unlinkable' {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(this.file, file);
        return this.identity;
      } catch (err) {
        const code = errno(err);
        if (code === 'EEXIST') return undefined;
        if (code === 'ENOENT' && attempt === 0 && !exists(this.file)) {
          // Removed from under us: made again, with a new identity (locks held keep theirs).
          this.make();
          continue;
        }
        if (code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK' || code === 'ENOTSUP' || code === 'EOPNOTSUPP')
          return 'unlinkable';
        throw err;
      }
    }
  }

  private make(): void {
    unlinkIfPresent(this.file);
    const made = createExclusive(this.file, ownerRecord());
    if (made === undefined) throw new Error(`${this.file} was made meanwhile`);
    this.identity = made;
  }
}

/** The source's name in the state directory. */
const SOURCE_FILE = 'mailbox-lock';

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

/** Who takes a lock: this process, with a random token. */
function ownerRecord(): string {
  const owner: LockOwner = {
    host: HOST,
    boot: BOOT_ID,
    pid: PID,
    start: SELF_START,
    token: randomBytes(12).toString('hex'),
    since: new Date().toISOString(),
  };
  return JSON.stringify(owner) + '\n';
}

/**
 * Takes the lock of the Maildir `dir`, breaking a stale one: a link to
 * `source` where one can be made, else a file of its own. Returns undefined
 * when another session (here or on another host) holds it. Throws the file
 * system's error otherwise (ENOENT: the Maildir does not exist).
 * Synchronous: a few local file operations, so that two logins in one event
 * loop turn cannot interleave.
 */
export function acquireMailboxLock(dir: string, log: Logger, source?: LockSource): HeldMailboxLock | undefined {
  const file = `${dir}/${LOCK_FILE}`;
  const take = (): FileIdentity | undefined => {
    const linked = source?.link(file) ?? 'unlinkable';
    return linked === 'unlinkable' ? createExclusive(file, ownerRecord()) : linked;
  };
  let made = take();
  if (made === undefined) {
    if (!breakIfStale(file, log)) return undefined;
    made = take();
    if (made === undefined) return undefined;
  }
  return hold(file, made, log);
}

/** Removes the lock at `file` if it is stale; whether it did. */
function breakIfStale(file: string, log: Logger): boolean {
  const look = (): { owner: LockOwner | undefined; text: string; reason: string | undefined } | undefined => {
    try {
      // The Maildir's user can put anything at this name: never a FIFO's open() that waits forever.
      const text = readMaildirFileSync(file);
      const owner = parseOwner(text);
      return { owner, text, reason: staleReason(owner, statSync(file).mtimeMs, Date.now()) };
    } catch (err) {
      if (errno(err) === 'ENOENT') return { owner: undefined, text: '', reason: 'gone' };
      throw err;
    }
  };
  const first = look();
  if (first?.reason === undefined) return false;
  if (first.reason === 'gone') return true;
  const breakFile = `${file}.break`;
  if (createExclusive(breakFile, `${HOST} ${PID}\n`) === undefined) {
    // Someone else is breaking it; a break file left by a crash is removed for the next login.
    try {
      if (Date.now() - statSync(breakFile).mtimeMs > BREAK_STALE_MS) unlinkIfPresent(breakFile);
    } catch {
      // gone meanwhile
    }
    return false;
  }
  try {
    const again = look();
    // Only the very lock judged stale is removed: not one another breaker took meanwhile.
    if (again === undefined || again.reason === undefined || again.text !== first.text) return again?.reason === 'gone';
    unlinkIfPresent(file);
    log.warn('mailbox.lock_broken', {
      reason: first.reason,
      host: first.owner?.host,
      pid: first.owner?.pid,
      since: first.owner?.since,
    });
    return true;
  } finally {
    unlinkIfPresent(breakFile);
  }
}

/**
 * Holds the lock made at `file` until release. Whether it is still ours is
 * one stat of the name, not a read of the file: a breaker that removed it
 * and took the lock made another file there.
 */
function hold(file: string, made: FileIdentity, log: Logger): HeldMailboxLock {
  const ours = (): boolean => {
    try {
      return identityOf(statSync(file, { bigint: true })) === made;
    } catch (err) {
      if (errno(err) === 'ENOENT') return false;
      throw err;
    }
  };
  const timer = setInterval(() => {
    void (async () => {
      if (!ours()) {
        log.error('mailbox.lock_lost', { file });
        clearInterval(timer);
        return;
      }
      const now = new Date();
      await fsp.utimes(file, now, now);
    })().catch((err: unknown) => log.warn('mailbox.lock_refresh_failed', { file, error: err }));
  }, LOCK_REFRESH_MS);
  timer.unref();
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      try {
        if (ours()) unlinkSync(file);
      } catch (err) {
        log.warn('mailbox.lock_release_failed', { file, error: err });
      }
    },
  };
}
