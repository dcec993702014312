/**
 * `npm run soak`: pop3d under mixed load for a long time (default 30 minutes),
 * outside the test command.
 *
 *   node runtime/dist/soak/soak.js [--minutes 30] [--users 20] [--clients 8]
 *        [--apply-every 20] [--kill-every 180] [--sample-every 10] [--report soak.json]
 *
 * What runs, all against one real pop3d on loopback:
 *   - delivery: messages written to users' Maildirs as an MDA does (tmp/, then
 *     rename into new/), of many sizes, with dot lines and bare LFs;
 *   - clients: sessions that log in, list, RETR (each body checked against
 *     what was delivered), TOP, DELE, then QUIT, RSET+QUIT or just drop;
 *   - applies: a changing configuration through the admin API every few
 *     seconds (access rules, limits, a second listener on and off);
 *   - kills: SIGKILL (and now and then SIGTERM) of pop3d, then a restart on
 *     the same state directory; kills stop for the last third of the run so
 *     that one long lifetime shows the memory trend.
 *
 * A ledger records every message delivered and what every session was told.
 * At the end pop3d is stopped and every Maildir is checked against it:
 *   lost      a message no completed or attempted QUIT deleted, gone (must be 0)
 *   corrupt   a file, or a RETR, whose bytes differ from what was delivered (must be 0)
 *   undeleted a message a QUIT answered +OK for, still there (must be 0)
 * It reports errors (unexpected ones apart from those a kill explains),
 * resident memory over time and its trend. Exit status 1 when anything must-be-0
 * is not, or when memory trends upward.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, removeDir, startReadyDaemon, type Daemon, Pop3Client } from '@pop3-iac/test-kit';

/** Time kept free of kills at the start of the last lifetime before its RSS samples count, in ms. */
const WARM_UP_MS = 60_000;

interface Options {
  minutes: number;
  users: number;
  clients: number;
  applyEvery: number;
  killEvery: number;
  sampleEvery: number;
  report?: string;
  keep: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '30' },
      users: { type: 'string', default: '20' },
      clients: { type: 'string', default: '8' },
      'apply-every': { type: 'string', default: '20' },
      'kill-every': { type: 'string', default: '180' },
      'sample-every': { type: 'string', default: '10' },
      report: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const n = (name: string, value: string | undefined) => {
    const v = Number(value);
    if (!(v > 0)) throw new Error(`--${name} must be a positive number`);
    return v;
  };
  return {
    minutes: n('minutes', values.minutes),
    users: Math.round(n('users', values.users)),
    clients: Math.round(n('clients', values.clients)),
    applyEvery: n('apply-every', values['apply-every']),
    killEvery: n('kill-every', values['kill-every']),
    sampleEvery: n('sample-every', values['sample-every']),
    report: values.report,
    keep: values.keep ?? false,
  };
}

function log(text: string): void {
  process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** A message file as sent by RETR: CRLF line endings, ending in CRLF. */
function asSent(raw: Buffer): string {
  const text = raw.toString('latin1');
  if (text === '') return '';
  const crlf = text.replace(/\r?\n/g, '\r\n');
  return crlf.endsWith('\r\n') ? crlf : crlf + '\r\n';
}

type MessageState = 'present' | 'maybe-deleted' | 'deleted';
interface LedgerEntry {
  user: string;
  /** sha256 of the file's bytes. */
  fileHash: string;
  /** sha256 of the bytes RETR must send (before dot-stuffing). */
  sentHash: string;
  state: MessageState;
}

class Soak {
  readonly opts: Options;
  daemon!: Daemon;
  port = 0;
  port2 = 0;
  config: Record<string, unknown> = {};
  readonly users: Record<string, string> = {};
  /** Unique name (UIDL) -> what was delivered and what happened to it. */
  readonly ledger = new Map<string, LedgerEntry>();
  /** Users a client is working on (a second session would only get [IN-USE]). */
  readonly busy = new Set<string>();
  epoch = 0;
  restarting = false;
  stopping = false;
  readonly startedAt = Date.now();
  killsStopAt: number;
  lastLifetimeStart = Date.now();
  readonly counts = {
    delivered: 0,
    sessions: 0,
    sessionsOk: 0,
    sessionsInterrupted: 0,
    retrieved: 0,
    retrievedOctets: 0,
    deleteMarked: 0,
    quitOk: 0,
    quitErr: 0,
    quitNoReply: 0,
    dropped: 0,
    inUse: 0,
    applies: 0,
    appliesFailed: 0,
    kills: 0,
    terms: 0,
  };
  readonly errors: string[] = [];
  readonly expectedErrors: Record<string, number> = {};
  readonly samples: Array<{ t: number; epoch: number; rssMB: number; connections?: number }> = [];
  corruptRetr = 0;

  constructor(opts: Options) {
    this.opts = opts;
    this.killsStopAt = this.startedAt + (opts.minutes * 60_000 * 2) / 3;
    for (let i = 0; i < opts.users; i++) this.users[`soak${i}`] = `pw-${i}-${randomBytes(4).toString('hex')}`;
  }

  get deadline(): number {
    return this.startedAt + this.opts.minutes * 60_000;
  }

  unexpected(what: string): void {
    if (this.errors.length < 1000) this.errors.push(`${new Date().toISOString()} ${what}`);
    log(`ERROR ${what}`);
  }

  expected(kind: string): void {
    this.expectedErrors[kind] = (this.expectedErrors[kind] ?? 0) + 1;
  }

  maildir(user: string): string {
    return join(this.daemon.maildirRoot, user, 'Maildir');
  }

  // -------------------------------------------------------------------------
  // Delivery

  /** A message of a random size: header, lines (some starting with "."), sometimes bare LF, sometimes no final newline. */
  makeMessage(id: string): Buffer {
    const eol = Math.random() < 0.2 ? '\n' : '\r\n';
    const size = Math.random() < 0.02 ? randomInt(1_000_000, 3_000_000) : randomInt(100, 60_000);
    const parts = [`Subject: soak ${id}${eol}X-Soak-Id: ${id}${eol}${eol}`];
    let length = parts[0]!.length;
    while (length < size) {
      const line = (Math.random() < 0.05 ? '.' : '') + randomBytes(randomInt(1, 60)).toString('base64');
      parts.push(line + eol);
      length += line.length + eol.length;
    }
    if (Math.random() < 0.1) parts.push('no final newline');
    return Buffer.from(parts.join(''), 'latin1');
  }

  async deliver(user: string): Promise<void> {
    const unique = `${Math.floor(Date.now() / 1000)}.M${randomInt(1e9)}P${process.pid}Q${this.counts.delivered}.soak`;
    const content = this.makeMessage(unique);
    const dir = this.maildir(user);
    await mkdir(join(dir, 'tmp'), { recursive: true });
    await mkdir(join(dir, 'new'), { recursive: true });
    await mkdir(join(dir, 'cur'), { recursive: true });
    await writeFile(join(dir, 'tmp', unique), content);
    this.ledger.set(unique, { user, fileHash: sha(content), sentHash: sha(asSent(content)), state: 'present' });
    await rename(join(dir, 'tmp', unique), join(dir, 'new', unique));
    this.counts.delivered++;
  }

  async deliveryLoop(): Promise<void> {
    const names = Object.keys(this.users);
    while (!this.stopping) {
      await this.deliver(names[randomInt(names.length)]!).catch((e: Error) =>
        this.unexpected(`delivery: ${e.message}`),
      );
      await pause(randomInt(5, 40));
    }
  }

  // -------------------------------------------------------------------------
  // Clients

  async session(user: string): Promise<void> {
    const epoch = this.epoch;
    this.counts.sessions++;
    let wire: Pop3Client | undefined;
    let marked: string[] = [];
    const fail = (what: string) => {
      // A kill or restart during the session explains a broken connection.
      if (this.epoch !== epoch || this.restarting) this.expected('session-interrupted-by-kill');
      else this.unexpected(`session ${user}: ${what}`);
      this.counts.sessionsInterrupted++;
    };
    try {
      wire = await Pop3Client.open({ host: '127.0.0.1', port: this.port, timeoutMs: 60_000 });
      const hello = await wire.line();
      if (!hello?.startsWith('+OK')) return fail(`greeting ${hello}`);
      if (!(await wire.command(`USER ${user}`))?.startsWith('+OK')) return fail('USER refused');
      const pass = await wire.command(`PASS ${this.users[user]}`);
      if (pass?.startsWith('-ERR [IN-USE]')) {
        // The previous session of this user has not been cleaned up yet (dropped connection).
        this.counts.inUse++;
        this.expected('in-use');
        return;
      }
      if (!pass?.startsWith('+OK')) return fail(`PASS: ${pass}`);
      const uidl = await wire.multi('UIDL');
      if (!uidl.status?.startsWith('+OK')) return fail(`UIDL: ${uidl.status}`);
      const numbers = uidl.lines.map((l) => {
        const [n, uid] = l.split(' ');
        return { n: Number(n), uid: uid! };
      });
      for (const { uid } of numbers) {
        const entry = this.ledger.get(uid);
        if (!entry || entry.user !== user) return this.unexpected(`${user}: UIDL lists ${uid}, never delivered to it`);
      }
      const list = await wire.multi('LIST');
      if (list.lines.length !== numbers.length) return fail('LIST and UIDL disagree');

      for (const { n, uid } of shuffle(numbers).slice(0, randomInt(0, 4))) {
        const retr = await wire.multi(`RETR ${n}`);
        if (!retr.status?.startsWith('+OK')) return fail(`RETR ${n}: ${retr.status}`);
        const body = retr.lines.map((l) => (l.startsWith('.') ? l.slice(1) : l) + '\r\n').join('');
        const entry = this.ledger.get(uid)!;
        if (sha(Buffer.from(body, 'latin1')) !== entry.sentHash) {
          this.corruptRetr++;
          this.unexpected(`${user}: RETR ${n} (${uid}) is not the message delivered`);
        }
        this.counts.retrieved++;
        this.counts.retrievedOctets += body.length;
      }
      if (numbers.length > 0 && Math.random() < 0.3) {
        const top = await wire.multi(`TOP ${numbers[0]!.n} 0`);
        if (!top.status?.startsWith('+OK') || top.lines.at(-1) !== '') return fail(`TOP n 0: ${top.status}`);
      }
      const toDelete = shuffle(numbers).slice(0, randomInt(0, Math.ceil(numbers.length * 0.6) + 1));
      for (const { n } of toDelete) if (!(await wire.command(`DELE ${n}`))?.startsWith('+OK')) return fail(`DELE ${n}`);
      this.counts.deleteMarked += toDelete.length;

      const ending = Math.random();
      if (ending < 0.15) {
        // Drop the connection: nothing may be deleted.
        this.counts.dropped++;
        this.counts.sessionsOk++;
        return;
      }
      if (ending < 0.25) {
        if (!(await wire.command('RSET'))?.startsWith('+OK')) return fail('RSET');
        toDelete.length = 0;
      }
      marked = toDelete.map((d) => d.uid);
      for (const uid of marked) this.ledger.get(uid)!.state = 'maybe-deleted';
      const quit = await wire.command('QUIT');
      if (quit?.startsWith('+OK')) {
        for (const uid of marked) this.ledger.get(uid)!.state = 'deleted';
        this.counts.quitOk++;
        this.counts.sessionsOk++;
      } else {
        // No answer (a kill), or "-ERR some deleted messages not removed": they stay maybe-deleted.
        if (quit === undefined) {
          this.counts.quitNoReply++;
          return fail('no reply to QUIT');
        }
        this.counts.quitErr++;
        this.unexpected(`${user}: QUIT answered ${quit}`);
      }
    } catch (error) {
      fail((error as Error).message);
    } finally {
      wire?.close();
    }
  }

  async clientLoop(): Promise<void> {
    const names = Object.keys(this.users);
    while (!this.stopping) {
      if (this.restarting) {
        await pause(50);
        continue;
      }
      const free = names.filter((u) => !this.busy.has(u));
      const user = free[randomInt(free.length)];
      if (user === undefined) {
        await pause(10);
        continue;
      }
      this.busy.add(user);
      try {
        await this.session(user);
      } finally {
        this.busy.delete(user);
      }
      await pause(randomInt(0, 40)); // a client's think time
    }
  }

  // -------------------------------------------------------------------------
  // Applies, kills, samples

  nextConfig(): Record<string, unknown> {
    const second = Math.random() < 0.5;
    return {
      binds: `127.0.0.1 ${this.port}${second ? `, 127.0.0.2 ${this.port2}` : ''}`,
      deny: shuffle(['192.0.2.0/24', '198.51.100.*', '2001:db8::/32', '203.0.113.7']).slice(0, randomInt(0, 4)),
      permit: Math.random() < 0.5 ? [] : ['127.0.0.0/8', '::1'],
      dropDeniedSessions: Math.random() < 0.5,
      limits: {
        maxBadCommands: randomInt(5, 30),
        maxConnectionsPerIp: 1000,
        loginFailureDelayMs: 0,
        loginFailureDelayMaxMs: 0,
        idleTimeoutSeconds: randomInt(60, 900),
      },
    };
  }

  async applyLoop(): Promise<void> {
    while (!this.stopping) {
      await pause(this.opts.applyEvery * 1000 * (0.5 + Math.random()));
      if (this.stopping || this.restarting) continue;
      const epoch = this.epoch;
      const config = this.nextConfig();
      try {
        const response = await this.daemon.admin('PUT', '/v1/config', config);
        this.counts.applies++;
        if (response.status === 200) this.config = config;
        else if (response.status === 409 && /127\.0\.0\.2/.test(response.text))
          this.expected('apply-second-port-taken');
        else {
          this.counts.appliesFailed++;
          this.unexpected(`apply answered ${response.status}: ${response.text.slice(0, 300)}`);
        }
      } catch (error) {
        if (this.epoch !== epoch || this.restarting) this.expected('apply-interrupted-by-kill');
        else {
          this.counts.appliesFailed++;
          this.unexpected(`apply: ${(error as Error).message}`);
        }
      }
    }
  }

  async restart(signal: NodeJS.Signals): Promise<void> {
    this.restarting = true;
    this.epoch++;
    const old = this.daemon;
    const code = await old.stop(signal);
    if (signal === 'SIGTERM' && code !== 0) this.unexpected(`SIGTERM: pop3d exited ${code}`);
    const t0 = Date.now();
    this.daemon = await startReadyDaemon({ config: this.config, dir: old.dir, users: this.users });
    this.lastLifetimeStart = Date.now();
    log(`${signal}: pop3d restarted in ${Date.now() - t0} ms (epoch ${this.epoch})`);
    this.restarting = false;
  }

  async killLoop(): Promise<void> {
    while (!this.stopping) {
      await pause(this.opts.killEvery * 1000 * (0.5 + Math.random()));
      if (this.stopping || Date.now() > this.killsStopAt) return;
      const signal = Math.random() < 0.8 ? 'SIGKILL' : 'SIGTERM';
      if (signal === 'SIGKILL') this.counts.kills++;
      else this.counts.terms++;
      await this.restart(signal).catch((e: Error) => this.unexpected(`restart: ${e.message}`));
    }
  }

  async sampleLoop(): Promise<void> {
    while (!this.stopping) {
      if (!this.restarting) {
        try {
          const status = readFileSync(`/proc/${this.daemon.process.pid}/status`, 'utf8');
          const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]);
          const admin = await this.daemon.admin('GET', '/v1/status').catch(() => undefined);
          const connections = (admin?.body as { sessions?: { connections?: number } } | undefined)?.sessions
            ?.connections;
          this.samples.push({ t: Date.now() - this.startedAt, epoch: this.epoch, rssMB: kb / 1024, connections });
          const done = ((Date.now() - this.startedAt) / 60_000).toFixed(1);
          log(
            `${done}/${this.opts.minutes} min: RSS ${(kb / 1024).toFixed(1)} MB, ${connections ?? '?'} connections, ` +
              `${this.counts.sessions} sessions, ${this.counts.delivered} delivered, ${this.counts.quitOk} QUITs, ` +
              `${this.counts.kills + this.counts.terms} restarts, ${this.errors.length} errors`,
          );
        } catch {
          // the process was just replaced; the next sample will do
        }
      }
      await pause(this.opts.sampleEvery * 1000);
    }
  }

  // -------------------------------------------------------------------------
  // Verdict

  async verify(): Promise<{ lost: string[]; corrupt: string[]; undeleted: string[]; unknown: string[] }> {
    const lost: string[] = [];
    const corrupt: string[] = [];
    const undeleted: string[] = [];
    const unknown: string[] = [];
    const onDisk = new Map<string, { user: string; hash: string }>();
    for (const user of Object.keys(this.users)) {
      const dir = this.maildir(user);
      for (const sub of ['new', 'cur']) {
        const names = await readdir(join(dir, sub)).catch(() => [] as string[]);
        for (const name of names) {
          const unique = name.split(':')[0]!;
          onDisk.set(unique, { user, hash: sha(await readFile(join(dir, sub, name))) });
        }
      }
      const tmp = await readdir(join(dir, 'tmp')).catch(() => [] as string[]);
      for (const name of tmp) unknown.push(`${user}/tmp/${name}`);
    }
    for (const [unique, entry] of this.ledger) {
      const file = onDisk.get(unique);
      if (file === undefined) {
        if (entry.state === 'present') lost.push(`${entry.user}/${unique}`);
      } else {
        if (file.hash !== entry.fileHash) corrupt.push(`${entry.user}/${unique}`);
        if (entry.state === 'deleted') undeleted.push(`${entry.user}/${unique}`);
      }
    }
    for (const [unique, file] of onDisk) if (!this.ledger.has(unique)) unknown.push(`${file.user}/${unique}`);
    return { lost, corrupt, undeleted, unknown };
  }

  /** Least-squares slope of RSS over time in the last lifetime after warm-up, in MB per minute, and the rise it implies. */
  trend(): { samples: number; slopeMBPerMin: number; firstThirdMB: number; lastThirdMB: number; upward: boolean } {
    const last = this.samples.filter(
      (s) => s.epoch === this.epoch && s.t >= this.lastLifetimeStart - this.startedAt + WARM_UP_MS,
    );
    if (last.length < 6)
      return { samples: last.length, slopeMBPerMin: 0, firstThirdMB: 0, lastThirdMB: 0, upward: false };
    const xs = last.map((s) => s.t / 60_000);
    const ys = last.map((s) => s.rssMB);
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    const slope =
      xs.reduce((acc, x, i) => acc + (x - mx) * (ys[i]! - my), 0) / xs.reduce((acc, x) => acc + (x - mx) ** 2, 0);
    const third = Math.floor(last.length / 3);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const firstThirdMB = mean(ys.slice(0, third));
    const lastThirdMB = mean(ys.slice(-third));
    // Upward: the last third sits clearly above the first, beyond garbage-collector noise.
    const upward = lastThirdMB - firstThirdMB > Math.max(15, firstThirdMB * 0.25) && slope > 0;
    return { samples: last.length, slopeMBPerMin: slope, firstThirdMB, lastThirdMB, upward };
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function main(): Promise<void> {
  const soak = new Soak(options());
  const { opts } = soak;
  soak.port = await freePort();
  soak.port2 = await freePort('127.0.0.2');
  soak.config = soak.nextConfig();
  soak.config.binds = `127.0.0.1 ${soak.port}`;
  soak.daemon = await startReadyDaemon({ config: soak.config, users: soak.users });
  log(
    `pop3d pid ${soak.daemon.process.pid} on 127.0.0.1:${soak.port}; ${opts.minutes} min, ${opts.users} users, ` +
      `${opts.clients} clients, apply every ~${opts.applyEvery} s, kill every ~${opts.killEvery} s (not in the last third)`,
  );
  for (const user of Object.keys(soak.users)) for (let i = 0; i < 10; i++) await soak.deliver(user);

  const loops = [
    soak.deliveryLoop(),
    soak.applyLoop(),
    soak.killLoop(),
    soak.sampleLoop(),
    ...Array.from({ length: opts.clients }, () => soak.clientLoop()),
  ];
  await pause(soak.deadline - Date.now());
  soak.stopping = true;
  await Promise.all(loops);

  // Stop pop3d cleanly, then compare the Maildirs with the ledger.
  const exit = await soak.daemon.stop('SIGTERM');
  if (exit !== 0) soak.unexpected(`final SIGTERM: pop3d exited ${exit}`);
  const verdict = await soak.verify();
  // One more start: pop3d serves what is on disk.
  const final = await startReadyDaemon({ config: soak.config, dir: soak.daemon.dir, users: soak.users });
  const user = Object.keys(soak.users)[0]!;
  const wire = await Pop3Client.open({ host: '127.0.0.1', port: soak.port, timeoutMs: 60_000 });
  await wire.line();
  await wire.command(`USER ${user}`);
  const pass = await wire.command(`PASS ${soak.users[user]}`);
  if (!pass?.startsWith('+OK')) soak.unexpected(`final login: ${pass}`);
  wire.close();
  await final.stop();

  const trend = soak.trend();
  const summary = {
    minutes: opts.minutes,
    counts: soak.counts,
    ledger: soak.ledger.size,
    unexpectedErrors: soak.errors.length,
    expectedErrors: soak.expectedErrors,
    lost: verdict.lost.length,
    corrupt: verdict.corrupt.length + soak.corruptRetr,
    undeleted: verdict.undeleted.length,
    unknownFiles: verdict.unknown.length,
    memory: {
      samples: soak.samples.map((s) => [Math.round(s.t / 1000), s.epoch, Number(s.rssMB.toFixed(1))]),
      trend,
    },
    firstErrors: soak.errors.slice(0, 20),
    lostExamples: verdict.lost.slice(0, 20),
    corruptExamples: verdict.corrupt.slice(0, 20),
  };
  if (opts.report) await writeFile(opts.report, JSON.stringify(summary, null, 2));

  log('RSS over time (seconds, lifetime, MB):');
  for (const s of soak.samples)
    process.stdout.write(`  ${Math.round(s.t / 1000)}\t${s.epoch}\t${s.rssMB.toFixed(1)}\n`);
  log(
    `memory: last lifetime ${trend.samples} samples after warm-up, ${trend.firstThirdMB.toFixed(1)} -> ` +
      `${trend.lastThirdMB.toFixed(1)} MB, slope ${trend.slopeMBPerMin.toFixed(2)} MB/min: ` +
      `${trend.upward ? 'UPWARD TREND' : 'no upward trend'}`,
  );
  log(`counts: ${JSON.stringify(soak.counts)}`);
  log(`expected errors (explained by kills or by design): ${JSON.stringify(soak.expectedErrors)}`);
  log(
    `unexpected errors: ${soak.errors.length}${soak.errors.length ? `\n  ${soak.errors.slice(0, 20).join('\n  ')}` : ''}`,
  );
  log(
    `messages: ${soak.ledger.size} delivered, lost ${verdict.lost.length}, corrupt ${summary.corrupt}, ` +
      `undeleted after +OK QUIT ${verdict.undeleted.length}, unknown files ${verdict.unknown.length}`,
  );
  const ok =
    verdict.lost.length === 0 &&
    summary.corrupt === 0 &&
    verdict.undeleted.length === 0 &&
    verdict.unknown.length === 0 &&
    soak.errors.length === 0 &&
    !trend.upward;
  log(ok ? 'PASS' : 'FAIL');
  if (!opts.keep) await removeDir(soak.daemon.dir);
  else log(`kept ${soak.daemon.dir}`);
  process.exit(ok ? 0 : 1);
}

main().catch((error: unknown) => {
  process.stderr.write(`soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
