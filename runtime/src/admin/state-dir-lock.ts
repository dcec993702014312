/**
 * One pop3d per --state-dir. Two would overwrite each other's persisted
 * configuration, and the second would unlink the first's admin socket. The
 * lock is `<state-dir>/pop3d.pid`, created exclusively (O_EXCL) with our pid
 * before anything else is read or written there, and removed at exit. A file
 * left by a daemon that died (SIGKILL, power loss) is stale when its pid is
 * not a live process, or is a live process that is not a pop3d (a reused
 * pid, told by /proc/<pid>/cmdline); a stale file is replaced.
 */
import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

const PID_FILE = 'pop3d.pid';

/** Another daemon holds the state directory. */
class StateDirLockedError extends Error {
  readonly code = 'STATE_DIR_LOCKED';
  constructor(stateDir: string, pid: number) {
    super(
      `another pop3d (pid ${pid}) is running on --state-dir ${stateDir}; stop it first, or give this one its own --state-dir`,
    );
    this.name = 'StateDirLockedError';
  }
}

/** Takes the lock (synchronously: nothing else may happen first); returns its release, also run at exit. */
export function lockStateDir(stateDir: string): () => void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = join(stateDir, PID_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
    }
    const holder = Number.parseInt(readIfPresent(file) ?? '', 10);
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isLivePop3d(holder))
      throw new StateDirLockedError(stateDir, holder);
    unlinkSync(file); // stale: its daemon is gone
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off('exit', release);
    // Only our own file: never one a later daemon took over.
    if ((readIfPresent(file) ?? '').trim() === String(process.pid)) unlinkSync(file);
  };
  process.on('exit', release);
  return release;
}

function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function isLivePop3d(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive, another user's process.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const cmdline = readIfPresent(`/proc/${pid}/cmdline`);
  // Without /proc the liveness check alone decides.
  return cmdline === undefined || cmdline.includes('pop3d');
}
