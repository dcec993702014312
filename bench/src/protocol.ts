/** The messages between the orchestrator (main.ts) and the load-generator processes (worker.ts). */
import type { Target } from './pop3-client';

/** Users of the benchmark: `u00042` with password `pw-u00042`. */
export function userName(index: number): string {
  return 'u' + String(index).padStart(5, '0');
}

export function passwordOf(user: string): string {
  return 'pw-' + user;
}

export interface Window {
  /** Epoch milliseconds when every worker starts. */
  startAt: number;
  /** Sessions finished before startAt + warmupMs are not counted. */
  warmupMs: number;
  durationMs: number;
}

/** Scenario a (plain, RETR) and d (TLS, login only): sessions back to back on each slot. */
export interface SessionsTask {
  kind: 'sessions';
  target: Target;
  /** The global slot numbers this worker runs (one session at a time each). */
  slots: number[];
  totalSlots: number;
  /** Users u00000..u<poolSize-1>; slot s uses only users ≡ s (mod totalSlots), so no two sessions share a mailbox. */
  poolSize: number;
  /** STAT and RETR 1 after login (scenario a); login and QUIT only otherwise (scenario d). */
  retr: boolean;
  window: Window;
}

export interface SessionsResult {
  completed: number;
  errors: Record<string, number>;
  /** Latency of each counted session, ms. */
  latencies: number[];
  octets: number;
}

/** Scenario b: RETR one message again and again in one session. */
export interface RetrTask {
  kind: 'retr';
  target: Target;
  user: string;
  message: number;
  window: Window;
}

export interface RetrResult {
  retrieved: number;
  octets: number;
  latencies: number[];
  errors: Record<string, number>;
}

/** Scenario b: TOP n 0, `iterations` times in one session. */
export interface TopTask {
  kind: 'top';
  target: Target;
  user: string;
  message: number;
  iterations: number;
}

export interface TopResult {
  latencies: number[];
  errors: Record<string, number>;
}

/** Scenarios c and f: open and log in sessions, and keep them. */
export interface HoldTask {
  kind: 'hold';
  /** Session i goes to targets[i % targets.length]. */
  targets: Target[];
  users: string[];
  /** Logins in flight at once in this worker. */
  parallel: number;
}

export interface HoldResult {
  held: number;
  failed: number;
  errors: Record<string, number>;
}

/** NOOP on every held session: how many answer +OK. */
export interface CheckTask {
  kind: 'check';
  parallel: number;
}

export interface CheckResult {
  alive: number;
  dropped: number;
  errors: Record<string, number>;
}

/** QUIT every held session. */
export interface ReleaseTask {
  kind: 'release';
  parallel: number;
}

export interface ReleaseResult {
  released: number;
}

/** Scenario e: login, STAT, LIST, UIDL on a large mailbox, each timed. */
export interface InspectTask {
  kind: 'inspect';
  target: Target;
  user: string;
  expectMessages: number;
}

export interface InspectResult {
  loginMs: number;
  statMs: number;
  listMs: number;
  uidlMs: number;
  quitMs: number;
  /** Login to the end of the UIDL reply (QUIT not included). */
  totalMs: number;
  listed: number;
  uidls: number;
}

/** Before the timed scenarios: one full session (login, STAT, RETR 1, QUIT) per user, so that first-touch work
 * (Dovecot creating its index files in each Maildir, pop3d measuring and caching sizes) is out of every window. */
export interface PrimeTask {
  kind: 'prime';
  target: Target;
  users: string[];
  parallel: number;
}

export interface PrimeResult {
  done: number;
  errors: Record<string, number>;
}

export type Task = PrimeTask | SessionsTask | RetrTask | TopTask | HoldTask | CheckTask | ReleaseTask | InspectTask;

export interface TaskResults {
  prime: PrimeResult;
  sessions: SessionsResult;
  retr: RetrResult;
  top: TopResult;
  hold: HoldResult;
  check: CheckResult;
  release: ReleaseResult;
  inspect: InspectResult;
}

export interface Request {
  id: number;
  task: Task;
}

export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
