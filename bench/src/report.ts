/**
 * The one table: absolute figures per server, pop3d's ratio to each Dovecot
 * mode, the Node floor's ratio to Dovecot's high-performance mode (what no
 * Node server can go below: node-floor.ts), and each target (against Dovecot's high-performance mode
 * unless the target is absolute) with whether it is met.
 */
import type { Figures, ServerId } from './scenarios';
import { fmt, median } from './stats';
import { INDEPENDENT_RETR_CLIENTS, type RetrClient } from './independent-clients';
import { MESSAGE_SHAPES, SHAPE_LABEL } from './message-shapes';

export const SERVERS: ServerId[] = ['pop3d', 'dovecot-default', 'dovecot-performance', 'node-floor'];

export const SERVER_LABEL: Record<ServerId, string> = {
  pop3d: 'pop3d',
  'dovecot-default': 'Dovecot default',
  'dovecot-performance': 'Dovecot high-perf',
  'node-floor': 'Node floor',
};

/** Figures of each scenario, per server, one entry per repetition. */
export type Collected = Record<string, Partial<Record<ServerId, Figures[]>>>;

type Target =
  { kind: 'ratio'; op: '>=' | '<='; value: number } | { kind: 'absolute'; op: '>=' | '<=' | '='; value: number };

interface Row {
  scenario: string;
  label: string;
  /** A figure name, or several joined with " / " into one cell. */
  keys: string[];
  target?: Target;
  /** Show no ratio (composite cells, figures whose ratio means nothing). */
  noRatio?: boolean;
}

function rows(idleLevels: number[]): Row[] {
  const last = idleLevels[idleLevels.length - 1]!;
  const out: Row[] = [
    {
      scenario: 'a',
      label: 'full sessions/s (50 concurrent; USER/PASS, STAT, RETR 4 KB, QUIT)',
      keys: ['rate'],
      target: { kind: 'ratio', op: '>=', value: 2 },
    },
    {
      scenario: 'a',
      label: 'server CPU per session, ms',
      keys: ['cpuMsPerSession'],
      target: { kind: 'ratio', op: '<=', value: 0.2 },
    },
    kernelRow('a'),
    { scenario: 'a', label: 'session latency p50 / p99, ms', keys: ['p50', 'p99'], noRatio: true },
    {
      scenario: 'a',
      label: 'CPU cores busy: server / client / irq / other / steal',
      keys: ['serverCores', 'clientCores', 'irqCores', 'otherCores', 'stealCores'],
      noRatio: true,
    },
    ...independentSessionRows('a', 'a', 2),
    ...retrRows(),
    {
      scenario: 'c',
      label: 'memory with no session: PSS MB (processes)',
      keys: ['baselinePssMB', 'baselineProcesses'],
      noRatio: true,
    },
  ];
  for (const level of idleLevels) {
    out.push({
      scenario: 'c',
      label: `${level.toLocaleString('en-US')} idle sessions: PSS / RSS MB`,
      keys: [`pssMB@${level}`, `rssMB@${level}`],
      noRatio: true,
    });
    out.push({
      scenario: 'c',
      label: `PSS per idle session at ${level.toLocaleString('en-US')}, KB`,
      keys: [`pssKBPerSession@${level}`],
      target: level === last ? { kind: 'ratio', op: '<=', value: 0.1 } : undefined,
    });
  }
  out.push(
    {
      scenario: 'c',
      label: `sessions held of ${last.toLocaleString('en-US')} (processes)`,
      keys: [`held@${last}`, `processes@${last}`],
      target: { kind: 'absolute', op: '>=', value: last },
      noRatio: true,
    },
    { scenario: 'c', label: `time to open ${last.toLocaleString('en-US')} sessions, s`, keys: [`openSeconds@${last}`] },
    {
      scenario: 'd',
      label: 'POP3S sessions/s (handshake, USER/PASS, QUIT; 50 concurrent)',
      keys: ['rate'],
      target: { kind: 'ratio', op: '>=', value: 1.4 },
    },
    { scenario: 'd', label: 'server CPU per session, ms', keys: ['cpuMsPerSession'] },
    kernelRow('d'),
    { scenario: 'd', label: 'session latency p50 / p99, ms', keys: ['p50', 'p99'], noRatio: true },
    {
      scenario: 'd',
      label: 'CPU cores busy: server / client / irq / other / steal',
      keys: ['serverCores', 'clientCores', 'irqCores', 'otherCores', 'stealCores'],
      noRatio: true,
    },
    {
      scenario: 'e',
      label: 'first time: login+STAT+LIST+UIDL, ms',
      keys: ['first.total'],
      target: { kind: 'ratio', op: '<=', value: 1.0 },
    },
    {
      scenario: 'e',
      label: 'first time: login / STAT / LIST / UIDL / then QUIT, ms',
      keys: ['first.login', 'first.stat', 'first.list', 'first.uidl', 'first.quit'],
      noRatio: true,
    },
    {
      scenario: 'e',
      label: 'second time: login+STAT+LIST+UIDL, ms',
      keys: ['second.total'],
      target: { kind: 'ratio', op: '<=', value: 1.0 },
    },
    {
      scenario: 'e',
      label: 'second time: login / STAT / LIST / UIDL / then QUIT, ms',
      keys: ['second.login', 'second.stat', 'second.list', 'second.uidl', 'second.quit'],
      noRatio: true,
    },
    {
      scenario: 'f',
      label: 'apply changing 10 binds, 1,000 sessions open: p50 ms',
      keys: ['applyP50'],
      target: { kind: 'absolute', op: '<=', value: 50 },
    },
    { scenario: 'f', label: 'apply p99 / max, ms', keys: ['applyP99', 'applyMax'], noRatio: true },
    {
      scenario: 'f',
      label: 'sessions dropped (of held)',
      keys: ['dropped', 'held'],
      target: { kind: 'absolute', op: '=', value: 0 },
      noRatio: true,
    },
  );
  out.push(...independentSessionRows('d', 'd', 1.4));
  out.push(
    {
      scenario: 'h',
      label: 'through HAProxy (send-proxy-v2): full sessions/s, as a',
      keys: ['rate'],
    },
    { scenario: 'h', label: 'through HAProxy: server CPU per session, ms', keys: ['cpuMsPerSession'] },
    kernelRow('h'),
    { scenario: 'h', label: 'through HAProxy: session latency p50 / p99, ms', keys: ['p50', 'p99'], noRatio: true },
  );
  return out;
}

/**
 * The kernel's part of a session's server CPU (stime): where the system calls
 * and the loopback network stack are charged, a floor no user-space change
 * lowers but by making fewer calls.
 */
function kernelRow(scenario: string): Row {
  return { scenario, label: 'of which in the kernel (system calls, network stack), ms', keys: ['kernelMsPerSession'] };
}

/** Rows of a or d under the Python client (scenario `<id>/python`): the same targets as under ours. */
function independentSessionRows(id: string, label: string, rateTarget: number): Row[] {
  const scenario = `${id}/python`;
  return [
    {
      scenario,
      label: `${label} under Python asyncio (clients/pop3load.py): sessions/s`,
      keys: ['rate'],
      target: { kind: 'ratio', op: '>=', value: rateTarget },
    },
    {
      scenario,
      label: 'server CPU per session, ms',
      keys: ['cpuMsPerSession'],
      ...(id === 'a' && { target: { kind: 'ratio', op: '<=', value: 0.2 } as Target }),
    },
    kernelRow(scenario),
    { scenario, label: 'client-bound (1: the client used its whole core)', keys: ['clientBound'], noRatio: true },
  ];
}

/**
 * Scenario b: one row pair per message shape and client (scenario
 * `b:<shape>/<client>`). A slow reader sets the pace itself, so its MB/s is
 * shown without a target; its CPU per MB has one.
 */
function retrRows(): Row[] {
  const out: Row[] = [];
  for (const shape of MESSAGE_SHAPES) {
    for (const client of RETR_CLIENTS) {
      const scenario = `b:${shape}/${client}`;
      const paced = client === 'slow';
      out.push(
        {
          scenario,
          label: `RETR 20 MB ${SHAPE_LABEL[shape]}, ${CLIENT_LABEL[client]}: MB/s`,
          keys: ['mbPerSecond'],
          ...(!paced && { target: { kind: 'ratio', op: '>=', value: 1.3 } as Target }),
        },
        {
          scenario,
          label: 'server CPU per MB sent, ms (client-bound: 1)',
          keys: ['cpuMsPerMB', 'clientBound'],
          target: { kind: 'ratio', op: '<=', value: 0.7 },
        },
      );
      if (client === 'node')
        out.push({ scenario, label: 'TOP 1 0 latency p50 / p99, ms', keys: ['topP50', 'topP99'], noRatio: true });
    }
  }
  return out;
}

const CLIENT_LABEL: Record<RetrClient, string> = {
  node: 'our Node client',
  curl: 'curl',
  poplib: "Python's poplib",
  bulk: 'Python, 1 MiB reads',
  slow: 'slow reader (64 KiB / 2 ms)',
};
const RETR_CLIENTS: readonly RetrClient[] = ['node', ...INDEPENDENT_RETR_CLIENTS];

/** Figures that are rates, which a client can cap. */
const RATE_KEYS = new Set(['rate', 'mbPerSecond']);

function value(collected: Collected, scenario: string, server: ServerId, key: string): number {
  const reps = collected[scenario]?.[server];
  if (!reps || reps.length === 0) return NaN;
  return median(reps.map((f) => f[key] ?? NaN));
}

function check(op: string, actual: number, wanted: number): boolean {
  if (!Number.isFinite(actual)) return false;
  if (op === '>=') return actual >= wanted;
  if (op === '<=') return actual <= wanted;
  return actual === wanted;
}

export interface TargetVerdict {
  scenario: string;
  label: string;
  met: boolean;
  /** A rate the client capped: not judged. */
  paced?: boolean;
  detail: string;
}

/** The table as Markdown, and the verdict on each target. */
export function buildTable(
  collected: Collected,
  idleLevels: number[],
): { markdown: string; verdicts: TargetVerdict[] } {
  const header = [
    '',
    'metric',
    ...SERVERS.map((s) => SERVER_LABEL[s]),
    'pop3d ÷ default',
    'pop3d ÷ high-perf',
    'floor ÷ high-perf',
    'target',
    'met',
  ];
  const lines: string[][] = [];
  const verdicts: TargetVerdict[] = [];
  for (const row of rows(idleLevels)) {
    if (!collected[row.scenario]) continue;
    const cells = SERVERS.map((s) => row.keys.map((k) => fmt(value(collected, row.scenario, s, k))).join(' / '));
    const key = row.keys[0]!;
    const p = value(collected, row.scenario, 'pop3d', key);
    const ratioOf = (a: number, s: ServerId) =>
      row.noRatio ? '' : fmt(a / value(collected, row.scenario, s, key), 2) + '×';
    const ratio = (s: ServerId) => ratioOf(p, s);
    const floor = value(collected, row.scenario, 'node-floor', key);
    let target = '';
    let met = '';
    if (row.target) {
      let ok: boolean;
      if (row.target.kind === 'ratio') {
        target = `${row.target.op} ${row.target.value}× high-perf`;
        ok = check(row.target.op, p / value(collected, row.scenario, 'dovecot-performance', key), row.target.value);
      } else {
        target = `${row.target.op === '=' ? '=' : row.target.op} ${row.target.value.toLocaleString('en-US')}`;
        ok = check(row.target.op, p, row.target.value);
      }
      // A rate the client capped (clientBound, independent-clients.ts) shows the client, not pop3d: said so, not judged.
      const paced = RATE_KEYS.has(key) && value(collected, row.scenario, 'pop3d', 'clientBound') === 1;
      met = paced ? 'client-bound' : ok ? 'yes' : '**no**';
      verdicts.push({
        scenario: row.scenario,
        label: row.label,
        met: ok || paced,
        paced,
        detail: `pop3d ${cells[0]}; ${target}${paced ? '; not judged: the client set the pace (pop3d waited for it)' : ''}`,
      });
    }
    lines.push([
      row.scenario,
      row.label,
      ...cells,
      ratio('dovecot-default'),
      ratio('dovecot-performance'),
      Number.isFinite(floor) ? ratioOf(floor, 'dovecot-performance') : '',
      target,
      met,
    ]);
  }
  return { markdown: markdownTable(header, lines), verdicts };
}

function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length), 3));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  return [line(header), '| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |', ...rows.map(line)].join('\n');
}
