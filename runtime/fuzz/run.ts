/**
 * `npm run fuzz`: the fuzz properties of the test suite, run for many more
 * cases, outside the test command.
 *
 *   node runtime/dist/fuzz/run.js [--cases N] [--seed S] [--only schema|proxy|session|admin]
 *
 * N cases per target (default 100000): the configuration schema (in process),
 * the PROXY protocol parser (in process),
 * POP3 sessions against a real pop3d (several connections at once, each on
 * its own users), and the admin API of a real pop3d (HTTP requests, and raw
 * bytes for a fifth of them). Prints the count of cases run per target and
 * what they exercised; exits 1 with fast-check's counterexample (and its
 * seed, to replay with --seed) on the first failure.
 */
import { parseArgs } from 'node:util';
import { freePort, removeDir, startReadyDaemon, type Daemon } from '@pop3-iac/test-kit';
import { fuzzAdminHttp, fuzzAdminRaw, newAdminStats, type AdminTarget } from './admin-fuzz';
import { fuzzProxyParser, type ProxyFuzzStats } from './proxy-fuzz';
import { fuzzSchema, type SchemaFuzzStats } from './schema-fuzz';
import { fuzzConfig, fuzzSessions, FUZZ_USERS, newStats, stillServes, type FuzzStats } from './session-fuzz';

/** Property loops run at once against the POP3 daemon (each owns FUZZ_USERS / this many users). */
const SESSION_WORKERS = 4;
/** How often progress is printed, in milliseconds. */
const PROGRESS_MS = 15_000;

function log(text: string): void {
  process.stdout.write(`[fuzz ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

function progress(label: string, count: () => number, total: number): () => void {
  const started = Date.now();
  const timer = setInterval(() => {
    const done = count();
    const rate = done / ((Date.now() - started) / 1000);
    log(`${label}: ${done}/${total} cases (${rate.toFixed(0)}/s, ~${Math.ceil((total - done) / rate)} s left)`);
  }, PROGRESS_MS);
  return () => clearInterval(timer);
}

/** Splits n into `parts` whole numbers that add up to n. */
function split(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

async function withDaemon<T>(
  options: Parameters<typeof startReadyDaemon>[0],
  work: (daemon: Daemon) => Promise<T>,
): Promise<T> {
  const daemon = await startReadyDaemon(options);
  try {
    return await work(daemon);
  } finally {
    await daemon.stop();
    await removeDir(daemon.dir);
  }
}

function aliveCheck(daemon: Daemon): () => void {
  return () => {
    if (daemon.process.exitCode !== null)
      throw new Error(`pop3d exited (${daemon.process.exitCode}):\n${daemon.output().slice(-3000)}`);
  };
}

async function fuzzSessionTarget(cases: number, seed: number | undefined): Promise<FuzzStats> {
  const port = await freePort();
  const stats = newStats();
  await withDaemon({ config: fuzzConfig(port), users: FUZZ_USERS }, async (daemon) => {
    const users = Object.keys(FUZZ_USERS);
    const stop = progress('session', () => stats.cases, cases);
    try {
      await Promise.all(
        split(cases, SESSION_WORKERS).map((numRuns, worker) =>
          fuzzSessions(port, daemon.maildirRoot, {
            numRuns,
            seed: seed === undefined ? undefined : seed + worker,
            alive: aliveCheck(daemon),
            stats,
            users: users.filter((_, i) => i % SESSION_WORKERS === worker),
          }),
        ),
      );
    } finally {
      stop();
    }
    await stillServes(port);
    const errors = daemon.logEvents().filter((e) => e.level === 'error');
    if (errors.length > 0) throw new Error(`pop3d logged internal errors: ${JSON.stringify(errors.slice(0, 5))}`);
  });
  return stats;
}

async function fuzzAdminTarget(cases: number, seed: number | undefined) {
  const port = await freePort();
  const baseline = { binds: `127.0.0.1 ${port}` };
  const stats = newAdminStats();
  await withDaemon({ config: baseline }, async (daemon) => {
    const target: AdminTarget = { socket: daemon.socket, port, baseline };
    const alive = aliveCheck(daemon);
    const afterCase = async () => {
      alive();
      const status = await daemon.admin('GET', '/v1/status');
      if (status.status !== 200) throw new Error(`GET /v1/status answered ${status.status}: ${status.text}`);
      const running = (await daemon.admin('GET', '/v1/config')).body as { deny: unknown[]; permit: unknown[] };
      if (running.deny.length > 0 || running.permit.length > 0) {
        const reset = await daemon.admin('PUT', '/v1/config', baseline);
        if (reset.status !== 200) throw new Error(`cannot put the baseline back: ${reset.text}`);
      }
      await stillServes(port);
    };
    // Three loops at once: two of HTTP requests, one of raw bytes (a fifth of the cases).
    const raw = Math.floor(cases / 5);
    const [http1, http2] = split(cases - raw, 2) as [number, number];
    const stop = progress('admin', () => stats.requests + stats.raw, cases);
    try {
      await Promise.all([
        fuzzAdminHttp(target, { numRuns: http1, seed, stats, afterCase }),
        fuzzAdminHttp(target, { numRuns: http2, seed: seed === undefined ? undefined : seed + 1, stats, afterCase }),
        fuzzAdminRaw(target, { numRuns: raw, seed, stats, afterCase }),
      ]);
    } finally {
      stop();
    }
  });
  return stats;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: '100000' },
      seed: { type: 'string' },
      only: { type: 'string' },
    },
  });
  const cases = Number(values.cases);
  if (!Number.isInteger(cases) || cases < 1) throw new Error('--cases must be a positive whole number');
  const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
  const targets = values.only === undefined ? ['schema', 'proxy', 'session', 'admin'] : [values.only];
  log(`${cases} cases per target (${targets.join(', ')}), seed ${seed}`);

  const counts: Record<string, number> = {};
  const started = Date.now();
  for (const target of targets) {
    const t0 = Date.now();
    if (target === 'schema') {
      const stats: SchemaFuzzStats = { cases: 0, valid: 0, invalid: 0 };
      const stop = progress('schema', () => stats.cases, cases);
      try {
        fuzzSchema({ numRuns: cases, seed, stats });
      } finally {
        stop();
      }
      counts.schema = stats.cases;
      log(`schema: ${stats.cases} cases passed (${stats.valid} valid, ${stats.invalid} invalid inputs)`);
    } else if (target === 'proxy') {
      const stats: ProxyFuzzStats = { cases: 0, headers: 0, invalid: 0 };
      const stop = progress('proxy', () => stats.cases, cases);
      try {
        fuzzProxyParser({ numRuns: cases, seed, stats });
      } finally {
        stop();
      }
      counts.proxy = stats.cases;
      log(`proxy: ${stats.cases} cases passed (${stats.headers} valid headers, ${stats.invalid} refused inputs)`);
    } else if (target === 'session') {
      const stats = await fuzzSessionTarget(cases, seed);
      counts.session = stats.cases;
      log(
        `session: ${stats.cases} cases passed, ${stats.replies} replies checked, ${stats.logins} logins; ` +
          `multi-line ${JSON.stringify(stats.multiLine)}; closed by ${JSON.stringify(stats.closedBy)}`,
      );
    } else if (target === 'admin') {
      const stats = await fuzzAdminTarget(cases, seed);
      counts.admin = stats.requests + stats.raw;
      log(
        `admin: ${stats.requests + stats.raw} cases passed (${stats.requests} HTTP, ${stats.raw} raw), ` +
          `${stats.answered} answered, ${stats.applied} applied; by status ${JSON.stringify(stats.byStatus)}`,
      );
    } else {
      throw new Error(`--only takes schema, proxy, session or admin, not ${target}`);
    }
    log(`${target} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  log(
    `done: ${total} cases (${JSON.stringify(counts)}) in ${((Date.now() - started) / 1000).toFixed(0)} s, 0 failures`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`fuzz: FAILED\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
