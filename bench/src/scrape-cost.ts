/**
 * The server CPU of one scrape of --metrics-listen, with no session open and
 * with `--sessions` open (default 2,000): a scrape that walked the sessions,
 * their sockets or the fd table would cost more with them. Runs pop3d as the
 * current user on loopback; no root needed, no Dovecot.
 *
 *   tsc -b bench && node bench/dist/scrape-cost.js [--scrapes 2000] [--sessions 2000]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { POP3D_BIN } from './pop3d';

/** Scrapes before counting: the first ones compile and warm the render path. */
const WARM_UP_SCRAPES = 50;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15; 100 ticks a second on Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function measure(sessions: number, scrapes: number): Promise<{ cpuMsPerScrape: number; bytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'pop3d-scrape-cost-'));
  const [port, metricsPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'users'), 'alice:{PLAIN}pw\n');
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ binds: `127.0.0.1 ${port}`, limits: { maxConnections: 20_000, maxConnectionsPerIp: 20_000 } }),
  );
  const child = spawn(
    process.execPath,
    [
      POP3D_BIN,
      ...['--config', join(dir, 'config.json'), '--users', join(dir, 'users')],
      ...['--maildir-root', dir, '--state-dir', join(dir, 'state')],
      ...['--metrics-listen', `127.0.0.1:${metricsPort}`],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const held: Socket[] = [];
  try {
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => d.includes('pop3d.ready') && resolve()),
    );
    for (let i = 0; i < sessions; i++) {
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'data'); // the greeting: a session is open
      held.push(socket);
    }
    const agent = new Agent({ keepAlive: true });
    const scrape = () =>
      new Promise<number>((resolve, reject) => {
        get({ host: '127.0.0.1', port: metricsPort, path: '/metrics', agent }, (response) => {
          let bytes = 0;
          response.on('data', (chunk: Buffer) => (bytes += chunk.length));
          response.on('end', () => resolve(bytes));
        }).on('error', reject);
      });
    for (let i = 0; i < WARM_UP_SCRAPES; i++) await scrape();
    const before = cpuSeconds(child.pid!);
    let bytes = 0;
    for (let i = 0; i < scrapes; i++) bytes = await scrape();
    const cpuMsPerScrape = ((cpuSeconds(child.pid!) - before) * 1000) / scrapes;
    agent.destroy();
    return { cpuMsPerScrape, bytes };
  } finally {
    for (const socket of held) socket.destroy();
    child.kill('SIGTERM');
    await once(child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scrapes: { type: 'string' }, sessions: { type: 'string' } } });
  const scrapes = Number(values.scrapes ?? 2000);
  const sessions = Number(values.sessions ?? 2000);
  // Alternated, twice each: the machine's other load drifts.
  for (const open of [0, sessions, 0, sessions]) {
    const r = await measure(open, scrapes);
    process.stdout.write(
      `sessions open ${open}: ${r.cpuMsPerScrape.toFixed(2)} ms of pop3d CPU per scrape (${scrapes} scrapes, ${r.bytes} bytes each)\n`,
    );
  }
}

void main();
