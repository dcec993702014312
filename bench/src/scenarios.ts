/**
 * Scenarios a–f (bench/README.md "What runs"), each run against one server at a time with the
 * same load generator. Each returns named figures; main.ts alternates the
 * servers and builds the table.
 */
import {
  machineCpuSeconds,
  processesCpuSeconds,
  treeCpuSeconds,
  treeMemory,
  type Memory,
  type TreeCpu,
} from './procfs';
import type { Target } from './pop3-client';
import { userName, type Window } from './protocol';
import { mergeCounts, quantile, sum } from './stats';
import type { WorkerPool } from './workers';
import { scrapeWhile } from './scraper';

export type ServerId = 'pop3d' | 'dovecot-default' | 'dovecot-performance' | 'node-floor';

export interface ServerUnderTest {
  id: ServerId;
  pid(): number;
  /** Stops and starts the server again (a fresh process tree for memory figures). */
  restart(): Promise<void>;
  plain: Target;
  secure: Target;
  /** pop3d's --metrics-listen port, when it has one. */
  metricsPort?: number;
  /** The HAProxy frontend (send-proxy-v2) in front of the server's proxy listener; scenario h. */
  proxied: Target;
  /** The only scenarios run against it (the Node floor: a, d and their Python runs); unset: all. */
  serves?: readonly string[];
}

export interface Settings {
  /** Concurrent sessions in scenarios a and d. */
  concurrency: number;
  /** Users the sessions of a and d cycle through. */
  poolSize: number;
  warmupMs: number;
  durationMs: number;
  /** Session counts at which c measures memory, ascending. */
  idleLevels: number[];
  /** Logins in flight at once per worker while c and f open their sessions. */
  holdParallel: number;
  topIterations: number;
  /** Messages in each scenario-e mailbox. */
  bigMailboxMessages: number;
  /** Admin applies in scenario f. */
  applies: number;
  /** Scrape pop3d's /metrics this often (milliseconds) during a and d; 0: never. */
  scrapeEveryMs: number;
}

export interface Context {
  pool: WorkerPool;
  settings: Settings;
  log: (line: string) => void;
}

export type Figures = Record<string, number>;

export interface Outcome {
  figures: Figures;
  errors: Record<string, number>;
}

interface CpuReading {
  at: number;
  server: TreeCpu;
  client: number;
  machine: ReturnType<typeof machineCpuSeconds>;
}

function readCpu(ctx: Context, server: ServerUnderTest): CpuReading {
  return {
    at: performance.now(),
    server: treeCpuSeconds(server.pid()),
    client: processesCpuSeconds([...ctx.pool.pids, process.pid]),
    machine: machineCpuSeconds(),
  };
}

/** CPU over an interval: seconds of each party, and cores (seconds per second of wall time). */
function cpuBetween(a: CpuReading, b: CpuReading) {
  const wall = (b.at - a.at) / 1000;
  const server = b.server.total - a.server.total;
  const serverKernel = b.server.kernel - a.server.kernel;
  const client = b.client - a.client;
  const irq = b.machine.irq - a.machine.irq;
  const steal = b.machine.steal - a.machine.steal;
  const other = Math.max(0, b.machine.busy - a.machine.busy - server - client - irq - steal);
  return {
    wall,
    server,
    serverKernel,
    client,
    other,
    serverCores: server / wall,
    clientCores: client / wall,
    otherCores: other / wall,
    irqCores: irq / wall,
    stealCores: steal / wall,
  };
}

export function newWindow(ctx: Context): Window {
  return { startAt: Date.now() + 300, warmupMs: ctx.settings.warmupMs, durationMs: ctx.settings.durationMs };
}

/** Reads CPU at the start and the end of the counted part of `window`. */
export function cpuOverWindow(
  ctx: Context,
  server: ServerUnderTest,
  window: Window,
): Promise<ReturnType<typeof cpuBetween>> {
  return new Promise((resolve) => {
    const from = window.startAt + window.warmupMs;
    setTimeout(
      () => {
        const a = readCpu(ctx, server);
        setTimeout(() => resolve(cpuBetween(a, readCpu(ctx, server))), from + window.durationMs - Date.now());
      },
      Math.max(0, from - Date.now()),
    );
  });
}

export function cpuFigures(cpu: ReturnType<typeof cpuBetween>): Figures {
  return {
    serverCores: cpu.serverCores,
    clientCores: cpu.clientCores,
    otherCores: cpu.otherCores,
    irqCores: cpu.irqCores,
    stealCores: cpu.stealCores,
  };
}

/** One full session for each of the users [from, to) (see PrimeTask). */
export async function prime(
  ctx: Context,
  server: ServerUnderTest,
  from: number,
  to: number,
): Promise<{ done: number; errors: Record<string, number> }> {
  const results = await ctx.pool.all<'prime'>((w) => {
    const users: string[] = [];
    for (let u = from + w; u < to; u += ctx.pool.size) users.push(userName(u));
    return { kind: 'prime', target: server.plain, users, parallel: 10 };
  });
  const errors: Record<string, number> = {};
  for (const r of results) mergeCounts(errors, r.errors);
  return { done: sum(results.map((r) => r.done)), errors };
}

/** Slots of a closed-loop run, spread over the workers. */
function slotsOf(ctx: Context, worker: number): number[] {
  const out: number[] = [];
  for (let s = worker; s < ctx.settings.concurrency; s += ctx.pool.size) out.push(s);
  return out;
}

/**
 * a (plain, RETR) and d (TLS): `concurrency` sessions back to back for the
 * window; sessions per second, server CPU per session, latency.
 */
export async function fullSessions(ctx: Context, server: ServerUnderTest, secure: boolean): Promise<Outcome> {
  const window = newWindow(ctx);
  const cpu = cpuOverWindow(ctx, server, window);
  const scrapes =
    ctx.settings.scrapeEveryMs > 0 && server.metricsPort !== undefined
      ? scrapeWhile(server.metricsPort, ctx.settings.scrapeEveryMs, window)
      : undefined;
  const results = await ctx.pool.all<'sessions'>((i) => ({
    kind: 'sessions',
    target: secure ? server.secure : server.plain,
    slots: slotsOf(ctx, i),
    totalSlots: ctx.settings.concurrency,
    poolSize: ctx.settings.poolSize,
    retr: !secure,
    window,
  }));
  const c = await cpu;
  const scraped = await scrapes;
  const outcome = sessionsOutcome(results, window, c);
  if (scraped) Object.assign(outcome.figures, { scrapes: scraped.scrapes, scrapeFailures: scraped.failures });
  Object.assign(outcome.figures, cpuFigures(c));
  return outcome;
}

/** The figures of closed-loop sessions (a, d, and under any client): rate, server CPU per session, latency; errors. */
export function sessionsOutcome(
  results: ReadonlyArray<{ completed?: number; latencies: number[]; errors: Record<string, number> }>,
  window: Window,
  c: { server: number; serverKernel: number },
): Outcome {
  const completed = sum(results.map((r) => r.completed ?? 0));
  const latencies = results.flatMap((r) => r.latencies);
  const errors: Record<string, number> = {};
  for (const r of results) mergeCounts(errors, r.errors);
  return {
    figures: {
      rate: completed / (window.durationMs / 1000),
      cpuMsPerSession: completed > 0 ? (c.server * 1000) / completed : NaN,
      kernelMsPerSession: completed > 0 ? (c.serverKernel * 1000) / completed : NaN,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      sessions: completed,
    },
    errors,
  };
}

/**
 * h: scenario a through HAProxy (TCP mode, send-proxy-v2) against the
 * server's PROXY listener. Server CPU is the server's alone; HAProxy's is
 * the balancer's cost, not the server's.
 */
export function throughBalancer(ctx: Context, server: ServerUnderTest): Promise<Outcome> {
  return fullSessions(ctx, { ...server, plain: server.proxied }, false);
}

/** b: RETR of the 20 MB message back to back in one session (MB/s, server CPU per MB); then TOP n 0 latency. */
export async function bigMessage(ctx: Context, server: ServerUnderTest, user: string): Promise<Outcome> {
  const window = newWindow(ctx);
  const cpu = cpuOverWindow(ctx, server, window);
  const retr = await ctx.pool.run<'retr'>(0, { kind: 'retr', target: server.plain, user, message: 1, window });
  const c = await cpu;
  const top = await ctx.pool.run<'top'>(0, {
    kind: 'top',
    target: server.plain,
    user,
    message: 1,
    iterations: ctx.settings.topIterations,
  });
  const mb = retr.octets / 1e6;
  return {
    figures: {
      mbPerSecond: mb / (window.durationMs / 1000),
      cpuMsPerMB: mb > 0 ? (c.server * 1000) / mb : NaN,
      retrieved: retr.retrieved,
      retrP50: quantile(retr.latencies, 0.5),
      topP50: quantile(top.latencies, 0.5),
      topP99: quantile(top.latencies, 0.99),
      ...cpuFigures(c),
    },
    errors: mergeCounts({ ...retr.errors }, top.errors),
  };
}

const MB = 1024 * 1024;

async function settle(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Memory of the server's processes once the process count has stopped changing (Dovecot forks and reaps). */
async function steadyMemory(server: ServerUnderTest): Promise<Memory> {
  let last = treeMemory(server.pid());
  for (let i = 0; i < 20; i++) {
    await settle(500);
    const now = treeMemory(server.pid());
    if (now.processes === last.processes) return now;
    last = now;
  }
  return last;
}

/** Opens and logs in users [from, to) spread over the workers, `targets` round robin. */
async function holdUsers(ctx: Context, targets: Target[], from: number, to: number) {
  const results = await ctx.pool.all<'hold'>((w) => {
    const users: string[] = [];
    for (let u = from + w; u < to; u += ctx.pool.size) users.push(userName(u));
    return { kind: 'hold', targets, users, parallel: ctx.settings.holdParallel };
  });
  const errors: Record<string, number> = {};
  for (const r of results) mergeCounts(errors, r.errors);
  return { held: sum(results.map((r) => r.held)), failed: sum(results.map((r) => r.failed)), errors };
}

async function checkHeld(ctx: Context) {
  const results = await ctx.pool.all<'check'>(() => ({ kind: 'check', parallel: 200 }));
  const errors: Record<string, number> = {};
  for (const r of results) mergeCounts(errors, r.errors);
  return { alive: sum(results.map((r) => r.alive)), dropped: sum(results.map((r) => r.dropped)), errors };
}

async function releaseHeld(ctx: Context): Promise<void> {
  await ctx.pool.all<'release'>(() => ({ kind: 'release', parallel: 200 }));
}

/**
 * c: idle authenticated sessions. Memory (PSS and RSS summed over all the
 * server's processes) before any, then at each level; per session = the
 * growth divided by the sessions added.
 */
export async function idleSessions(
  ctx: Context,
  server: ServerUnderTest,
  onLevel?: (sessions: number) => Promise<void>,
): Promise<Outcome> {
  const figures: Figures = {};
  const errors: Record<string, number> = {};
  // A fresh server, so that what earlier scenarios left (a grown heap, long-lived processes) is not counted
  // as free room; then a few sessions opened and closed, so that one-time costs (code loaded and compiled,
  // the users file read, processes started) are in the baseline and not charged to the idle sessions.
  await server.restart();
  const warmup = await holdUsers(ctx, [server.plain], 0, Math.min(200, ctx.settings.idleLevels[0]!));
  mergeCounts(errors, warmup.errors);
  await releaseHeld(ctx);
  const base = await steadyMemory(server);
  figures.baselinePssMB = base.pss / MB;
  figures.baselineRssMB = base.rss / MB;
  figures.baselineProcesses = base.processes;
  let opened = 0;
  try {
    for (const level of ctx.settings.idleLevels) {
      const t0 = performance.now();
      const r = await holdUsers(ctx, [server.plain], opened, level);
      mergeCounts(errors, r.errors);
      opened = level;
      figures[`openSeconds@${level}`] = (performance.now() - t0) / 1000;
      const m = await steadyMemory(server);
      const alive = await checkHeld(ctx);
      mergeCounts(errors, alive.errors);
      figures[`held@${level}`] = alive.alive;
      figures[`pssMB@${level}`] = m.pss / MB;
      figures[`rssMB@${level}`] = m.rss / MB;
      figures[`processes@${level}`] = m.processes;
      // Per session actually held (a server that refused some is not credited with their memory).
      const held = Math.max(1, alive.alive);
      figures[`pssKBPerSession@${level}`] = (m.pss - base.pss) / 1024 / held;
      figures[`rssKBPerSession@${level}`] = (m.rss - base.rss) / 1024 / held;
      ctx.log(
        `    ${server.id}: ${alive.alive}/${level} sessions held, PSS ${(m.pss / MB).toFixed(1)} MB in ${m.processes} processes`,
      );
      if (onLevel) await onLevel(level);
      if (alive.alive < level) break;
    }
  } finally {
    await releaseHeld(ctx);
  }
  await steadyMemory(server);
  return { figures, errors };
}

/** e: login, STAT, LIST, UIDL on a mailbox of many messages never opened before, then again. */
export async function bigMailbox(ctx: Context, server: ServerUnderTest, user: string): Promise<Outcome> {
  const figures: Figures = {};
  for (const pass of ['first', 'second'] as const) {
    const r = await ctx.pool.run<'inspect'>(0, {
      kind: 'inspect',
      target: server.plain,
      user,
      expectMessages: ctx.settings.bigMailboxMessages,
    });
    figures[`${pass}.login`] = r.loginMs;
    figures[`${pass}.stat`] = r.statMs;
    figures[`${pass}.list`] = r.listMs;
    figures[`${pass}.uidl`] = r.uidlMs;
    figures[`${pass}.quit`] = r.quitMs;
    figures[`${pass}.total`] = r.totalMs;
  }
  return { figures, errors: {} };
}

export interface ApplyTarget {
  /** PUTs a configuration with these extra binds; resolves with the HTTP status and whether it applied. */
  apply(extraBinds: Array<{ address: string; port: number }>): Promise<{ status: number; applied: boolean }>;
}

/**
 * f (pop3d only): 1,000 sessions open, half on the listener that stays and
 * half on ten listeners the first apply removes; then `applies` applies, each
 * replacing those ten binds by ten others (and back); apply latency, and how
 * many sessions no longer answer NOOP afterwards.
 */
export async function liveApply(
  ctx: Context,
  server: ServerUnderTest,
  admin: ApplyTarget,
  sets: Array<Array<{ address: string; port: number }>>,
  sessions: number,
): Promise<Outcome> {
  const errors: Record<string, number> = {};
  const first = await admin.apply(sets[0]!);
  if (first.status !== 200) throw new Error(`scenario f: the initial apply answered ${first.status}`);
  const changing: Target[] = sets[0]!.map((b) => ({ host: b.address, port: b.port, tls: false }));
  const targets: Target[] = [];
  for (const t of changing) targets.push(server.plain, t);
  const latencies: number[] = [];
  let failedApplies = 0;
  let held = 0;
  let alive = 0;
  let dropped = 0;
  try {
    const h = await holdUsers(ctx, targets, 0, sessions);
    mergeCounts(errors, h.errors);
    held = h.held;
    for (let k = 0; k < ctx.settings.applies; k++) {
      const binds = sets[(k + 1) % sets.length]!;
      const t0 = performance.now();
      const r = await admin.apply(binds);
      latencies.push(performance.now() - t0);
      if (r.status !== 200 || !r.applied) failedApplies++;
    }
    const c = await checkHeld(ctx);
    mergeCounts(errors, c.errors);
    alive = c.alive;
    dropped = c.dropped;
  } finally {
    await releaseHeld(ctx);
    await admin.apply([]);
  }
  return {
    figures: {
      held,
      alive,
      dropped,
      applies: latencies.length,
      failedApplies,
      applyP50: quantile(latencies, 0.5),
      applyP99: quantile(latencies, 0.99),
      applyMax: Math.max(...latencies),
    },
    errors,
  };
}
