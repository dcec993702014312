/**
 * One load-generator process. The orchestrator forks several and sends each
 * the same kind of task over IPC; each answers with counts and latencies.
 * Every loop here is bounded by a deadline or a count.
 */
import { performance } from 'node:perf_hooks';
import { Pop3Connection, Pop3Error } from './pop3-client';
import {
  passwordOf,
  userName,
  type CheckTask,
  type HoldTask,
  type InspectTask,
  type PrimeTask,
  type ReleaseTask,
  type Request,
  type Response,
  type RetrTask,
  type SessionsTask,
  type Task,
  type TopTask,
  type Window,
} from './protocol';

/** Longest a single session or command may take before it counts as an error, ms. */
const SESSION_TIMEOUT_MS = 60_000;

function errorCode(error: unknown): string {
  if (error instanceof Pop3Error) return error.code;
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message ?? String(error);
}

function count(errors: Record<string, number>, error: unknown): void {
  const code = errorCode(error);
  errors[code] = (errors[code] ?? 0) + 1;
}

function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout();
        reject(new Pop3Error(`no answer within ${ms} ms`, 'TIMEOUT'));
      }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs `fn(i)` for i in [0, n) with at most `parallel` at once. */
async function forEachLimit(n: number, parallel: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, lane));
}

/** Waits for the window to open; its measured part (after the warm-up) in performance.now() time. */
async function enterWindow(w: Window): Promise<{ from: number; to: number }> {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, w.startAt - Date.now())));
  // performance.now() is this process's monotonic clock; the window is given in epoch ms.
  const offset = Date.now() - performance.now();
  return { from: w.startAt + w.warmupMs - offset, to: w.startAt + w.warmupMs + w.durationMs - offset };
}

async function sessions(task: SessionsTask) {
  const errors: Record<string, number> = {};
  const latencies: number[] = [];
  let completed = 0;
  let octets = 0;
  const { from, to } = await enterWindow(task.window);
  const usersPerSlot = Math.max(1, Math.floor(task.poolSize / task.totalSlots));
  const slot = async (s: number): Promise<void> => {
    for (let k = 0; performance.now() < to; k++) {
      const user = userName(s + task.totalSlots * (k % usersPerSlot));
      const t0 = performance.now();
      let conn: Pop3Connection | undefined;
      try {
        const run = async (): Promise<number> => {
          conn = await Pop3Connection.open(task.target);
          await conn.login(user, passwordOf(user));
          let bytes = 0;
          if (task.retr) {
            await conn.expectOk('STAT');
            bytes = (await conn.expectOk('RETR 1', true)).octets;
          }
          await conn.quit();
          return bytes;
        };
        const bytes = await withTimeout(run(), SESSION_TIMEOUT_MS, () => conn?.destroy());
        const t1 = performance.now();
        if (t1 >= from && t1 <= to) {
          completed++;
          octets += bytes;
          latencies.push(t1 - t0);
        }
      } catch (error) {
        conn?.destroy();
        if (performance.now() <= to) count(errors, error);
        // A refused or failed session: do not spin; let the server breathe.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  };
  await Promise.all(task.slots.map(slot));
  return { completed, errors, latencies, octets };
}

async function retr(task: RetrTask) {
  const errors: Record<string, number> = {};
  const latencies: number[] = [];
  let retrieved = 0;
  let octets = 0;
  const { from, to } = await enterWindow(task.window);
  const conn = await Pop3Connection.open(task.target);
  try {
    await conn.login(task.user, passwordOf(task.user));
    await conn.expectOk('STAT');
    while (performance.now() < to) {
      const t0 = performance.now();
      const reply = await withTimeout(conn.command(`RETR ${task.message}`, true), SESSION_TIMEOUT_MS, () =>
        conn.destroy(),
      );
      const t1 = performance.now();
      if (!reply.ok) {
        count(errors, new Pop3Error(reply.line, 'RETR'));
        break;
      }
      if (t0 >= from && t1 <= to) {
        retrieved++;
        octets += reply.octets;
        latencies.push(t1 - t0);
      }
    }
    await conn.quit();
  } catch (error) {
    count(errors, error);
    conn.destroy();
  }
  return { retrieved, octets, latencies, errors };
}

async function top(task: TopTask) {
  const errors: Record<string, number> = {};
  const latencies: number[] = [];
  const conn = await Pop3Connection.open(task.target);
  try {
    await conn.login(task.user, passwordOf(task.user));
    await conn.expectOk('STAT');
    for (let i = 0; i < task.iterations; i++) {
      const t0 = performance.now();
      await withTimeout(conn.expectOk(`TOP ${task.message} 0`, true), SESSION_TIMEOUT_MS, () => conn.destroy());
      latencies.push(performance.now() - t0);
    }
    await conn.quit();
  } catch (error) {
    count(errors, error);
    conn.destroy();
  }
  return { latencies, errors };
}

async function prime(task: PrimeTask) {
  const errors: Record<string, number> = {};
  let done = 0;
  await forEachLimit(task.users.length, task.parallel, async (i) => {
    const user = task.users[i]!;
    let conn: Pop3Connection | undefined;
    try {
      const run = async (): Promise<void> => {
        conn = await Pop3Connection.open(task.target);
        await conn.login(user, passwordOf(user));
        await conn.command('STAT');
        await conn.command('RETR 1', true);
        await conn.quit();
      };
      await withTimeout(run(), SESSION_TIMEOUT_MS, () => conn?.destroy());
      done++;
    } catch (error) {
      conn?.destroy();
      count(errors, error);
    }
  });
  return { done, errors };
}

/** Sessions opened by `hold`, kept until `release`. */
const held: Pop3Connection[] = [];

async function hold(task: HoldTask) {
  const errors: Record<string, number> = {};
  let failed = 0;
  let ok = 0;
  await forEachLimit(task.users.length, task.parallel, async (i) => {
    const user = task.users[i]!;
    let conn: Pop3Connection | undefined;
    try {
      const run = async (): Promise<void> => {
        conn = await Pop3Connection.open(task.targets[i % task.targets.length]!);
        await conn.login(user, passwordOf(user));
      };
      await withTimeout(run(), SESSION_TIMEOUT_MS, () => conn?.destroy());
      held.push(conn!);
      ok++;
    } catch (error) {
      conn?.destroy();
      failed++;
      count(errors, error);
    }
  });
  return { held: ok, failed, errors };
}

async function check(task: CheckTask) {
  const errors: Record<string, number> = {};
  let alive = 0;
  let dropped = 0;
  await forEachLimit(held.length, task.parallel, async (i) => {
    const conn = held[i]!;
    try {
      const reply = await withTimeout(conn.command('NOOP'), SESSION_TIMEOUT_MS, () => conn.destroy());
      if (!reply.ok) throw new Pop3Error(reply.line, 'NOOP');
      alive++;
    } catch (error) {
      dropped++;
      count(errors, error);
    }
  });
  return { alive, dropped, errors };
}

async function release(task: ReleaseTask) {
  let released = 0;
  await forEachLimit(held.length, task.parallel, async (i) => {
    const conn = held[i]!;
    try {
      await withTimeout(conn.quit(), SESSION_TIMEOUT_MS, () => conn.destroy());
      released++;
    } catch {
      conn.destroy();
    }
  });
  held.length = 0;
  return { released };
}

async function inspect(task: InspectTask) {
  const conn = await Pop3Connection.open(task.target);
  try {
    const t0 = performance.now();
    await conn.login(task.user, passwordOf(task.user));
    const t1 = performance.now();
    const stat = await conn.command('STAT');
    const t2 = performance.now();
    const list = await conn.command('LIST', true, true);
    const t3 = performance.now();
    const uidl = await conn.command('UIDL', true, true);
    const t4 = performance.now();
    if (!stat.ok || !list.ok || !uidl.ok) throw new Pop3Error(`STAT/LIST/UIDL refused: ${stat.line}`, 'INSPECT');
    // QUIT timed too: a server may leave work (flag updates, index writes) to the end of the session.
    await conn.quit();
    const t5 = performance.now();
    const listed = lines(list.body!) - 1; // minus the "." line
    const uidls = lines(uidl.body!) - 1;
    if (listed !== task.expectMessages || uidls !== task.expectMessages) {
      throw new Pop3Error(`expected ${task.expectMessages} messages, LIST gave ${listed}, UIDL ${uidls}`, 'COUNT');
    }
    return {
      loginMs: t1 - t0,
      statMs: t2 - t1,
      listMs: t3 - t2,
      uidlMs: t4 - t3,
      quitMs: t5 - t4,
      totalMs: t4 - t0,
      listed,
      uidls,
    };
  } finally {
    conn.destroy();
  }
}

function lines(body: Buffer): number {
  let n = 0;
  for (let at = body.indexOf(10); at !== -1; at = body.indexOf(10, at + 1)) n++;
  return n;
}

/** The handler of each task kind. */
const HANDLERS: { [K in Task['kind']]: (task: Extract<Task, { kind: K }>) => Promise<unknown> } = {
  prime,
  sessions,
  retr,
  top,
  hold,
  check,
  release,
  inspect,
};

function run(task: Task): Promise<unknown> {
  return (HANDLERS[task.kind] as (task: Task) => Promise<unknown>)(task);
}

process.on('message', (message: Request) => {
  run(message.task).then(
    (result) => process.send!({ id: message.id, ok: true, result } satisfies Response),
    (error: unknown) =>
      process.send!({ id: message.id, ok: false, error: (error as Error)?.stack ?? String(error) } satisfies Response),
  );
});
// The orchestrator going away ends this process (no orphaned load).
process.on('disconnect', () => process.exit(0));
