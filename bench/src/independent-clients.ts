/**
 * Scenarios a, b and d driven by clients that are not ours: Python's
 * standard library (clients/pop3load.py: asyncio for a and d; poplib, a
 * 1 MiB bulk reader and a slow reader for b) and curl (b). The Node load
 * generator suits pop3d by design (it reads as fast as it can, in whatever
 * chunks arrive); these read as other programs do, so a result that only
 * holds under our client shows here.
 *
 * The clients' CPU is reported as "client": pop3load.py measures its own CPU
 * inside the counted window; curl's many short processes are what runs
 * besides the servers, so for curl "client" is the machine's remaining busy
 * time. A client using a whole core (pop3load.py is one thread) is the
 * bottleneck of that row: its rates say more about the client than the
 * server, while the server's CPU per unit still compares.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { passwordOf } from './protocol';
import {
  cpuFigures,
  cpuOverWindow,
  newWindow,
  type Context,
  type Figures,
  type Outcome,
  type ServerUnderTest,
  sessionsOutcome,
} from './scenarios';
import { mergeCounts, quantile, sum } from './stats';

const POP3LOAD = resolve(__dirname, '..', 'clients', 'pop3load.py');
/** How long one client process may outlive its window before it is killed, ms. */
const OVERRUN_MS = 60_000;

export type RetrClient = 'node' | 'curl' | 'poplib' | 'bulk' | 'slow';
/** The clients of scenario b besides the Node one, in the order they run. */
export const INDEPENDENT_RETR_CLIENTS: readonly Exclude<RetrClient, 'node'>[] = ['curl', 'poplib', 'bulk', 'slow'];

interface ClientResult {
  completed?: number;
  retrieved?: number;
  octets: number;
  latencies: number[];
  errors: Record<string, number>;
  cpuSeconds: number;
}

/** Runs one process to its end and returns its stdout; rejects on a non-zero exit or an overrun. */
function run(command: string, args: string[], deadlineMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(1000, deadlineMs - Date.now()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(out);
      else reject(new Error(`${command} ${args[0] ?? ''}: exit ${code ?? signal}: ${err.trim().slice(0, 300)}`));
    });
  });
}

function windowArgs(window: { startAt: number; warmupMs: number; durationMs: number }): string[] {
  return [
    '--start-at',
    String(window.startAt),
    '--warmup',
    String(window.warmupMs),
    '--duration',
    String(window.durationMs),
  ];
}

/** a (plain, with RETR) or d (POP3S): closed loops in `processes` Python processes, as many slots as the Node client. */
export async function pythonSessions(
  ctx: Context,
  server: ServerUnderTest,
  secure: boolean,
  processes: number,
): Promise<Outcome> {
  const window = newWindow(ctx);
  const cpu = cpuOverWindow(ctx, server, window);
  const total = ctx.settings.concurrency;
  const deadline = window.startAt + window.warmupMs + window.durationMs + OVERRUN_MS;
  const results = await Promise.all(
    Array.from({ length: processes }, async (_, p) => {
      const slots: number[] = [];
      for (let s = p; s < total; s += processes) slots.push(s);
      const target = secure ? server.secure : server.plain;
      const args = [POP3LOAD, 'sessions', '--port', String(target.port), '--slots', slots.join(','), '--total-slots'];
      args.push(String(total), '--pool', String(ctx.settings.poolSize), ...windowArgs(window));
      if (secure) args.push('--tls');
      else args.push('--retr');
      return JSON.parse(await run('python3', args, deadline)) as ClientResult;
    }),
  );
  const c = await cpu;
  const outcome = sessionsOutcome(results, window, c);
  const clientSeconds = sum(results.map((r) => r.cpuSeconds));
  Object.assign(outcome.figures, externalCpu(cpuFigures(c), clientSeconds / c.wall, processes));
  return outcome;
}

/** b under one of the independent clients: RETR 1 of `user`'s message back to back for the window. */
export async function independentRetr(
  ctx: Context,
  server: ServerUnderTest,
  user: string,
  client: Exclude<RetrClient, 'node'>,
): Promise<Outcome> {
  const window = newWindow(ctx);
  const cpu = cpuOverWindow(ctx, server, window);
  const deadline = window.startAt + window.warmupMs + window.durationMs + OVERRUN_MS;
  let result: ClientResult;
  if (client === 'curl') result = await curlLoop(server.plain.port, user, window, deadline);
  else {
    const args = [POP3LOAD, 'retr', '--port', String(server.plain.port), '--user', user, '--client', client];
    result = JSON.parse(await run('python3', [...args, ...windowArgs(window)], deadline)) as ClientResult;
  }
  const c = await cpu;
  const mb = result.octets / 1e6;
  const figures = cpuFigures(c);
  return {
    figures: {
      mbPerSecond: mb / (window.durationMs / 1000),
      cpuMsPerMB: mb > 0 ? (c.server * 1000) / mb : NaN,
      retrieved: result.retrieved ?? 0,
      retrP50: quantile(result.latencies, 0.5),
      ...(client === 'curl'
        ? externalCpu(figures, figures.otherCores!, 1, true)
        : externalCpu(figures, result.cpuSeconds / c.wall, 1)),
    },
    errors: result.errors,
  };
}

/**
 * curl, one process per RETR (`curl pop3://host:port/1`), one after another
 * for the window. Octets count for a RETR that ended inside the window; with
 * tens of RETRs per window the edges matter little.
 */
async function curlLoop(
  port: number,
  user: string,
  window: { startAt: number; warmupMs: number; durationMs: number },
  deadline: number,
): Promise<ClientResult> {
  const result: ClientResult = { retrieved: 0, octets: 0, latencies: [], errors: {}, cpuSeconds: 0 };
  const from = window.startAt + window.warmupMs;
  const to = from + window.durationMs;
  await new Promise((r) => setTimeout(r, Math.max(0, window.startAt - Date.now())));
  const url = `pop3://127.0.0.1:${port}/1`;
  while (Date.now() < to) {
    const t0 = Date.now();
    try {
      const args = ['-s', '-S', '--max-time', '30', '-u', `${user}:${passwordOf(user)}`, '-o', '/dev/null'];
      const octets = Number(await run('curl', [...args, '-w', '%{size_download}', url], deadline));
      const t1 = Date.now();
      if (t1 >= from && t1 <= to) {
        result.retrieved!++;
        result.octets += octets;
        result.latencies.push(t1 - t0);
      }
    } catch (err) {
      if (Date.now() <= to) mergeCounts(result.errors, { [(err as Error).message.slice(0, 60)]: 1 });
    }
  }
  return result;
}

/**
 * The CPU figures with the independent client's share as "client" (the
 * worker pool is idle meanwhile), and `clientBound` = 1 when the client, not
 * the server, set the pace: it used (nearly) all the cores it can use, or the
 * server was idle more than half the time (it waited for the client).
 */
function externalCpu(figures: Figures, clientCores: number, clientThreads: number, fromOther = false): Figures {
  const bound = clientCores >= 0.85 * clientThreads || figures.serverCores! < 0.5;
  return {
    ...figures,
    clientCores,
    otherCores: fromOther ? 0 : Math.max(0, figures.otherCores! - clientCores),
    clientBound: bound ? 1 : 0,
  };
}
