/**
 * A real HAProxy (Debian's `haproxy`) for tests and benchmarks: started in the
 * foreground (`-db`) on a generated haproxy.cfg in a private directory, with a
 * stats socket there to ask which servers its health checks find up.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { ResultPromise } from 'execa' with { 'resolution-mode': 'import' };

export interface HaproxyServer {
  name: string;
  port: number;
  /** The server-line options: `send-proxy-v2 check check-send-proxy`, ... */
  options: string;
}

export interface HaproxySection {
  name: string;
  /** The frontend's port on 127.0.0.1. */
  port: number;
  /** Backend lines before the servers (health check rules). */
  checks: string[];
  servers: HaproxyServer[];
}

export interface Haproxy {
  config: string;
  process: ResultPromise;
  output(): string;
  /** Rows of `show stat`: proxy, server and status (UP, DOWN, ...). */
  stat(): Promise<Array<{ proxy: string; server: string; status: string; checkStatus: string }>>;
  /** Waits until every server of every backend is UP. */
  waitAllUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function haproxyConfig(dir: string, sections: HaproxySection[]): string {
  const lines = [
    'global',
    `  stats socket ${join(dir, 'haproxy.sock')} mode 600 level admin`,
    '  log stdout format raw local0 info',
    'defaults',
    '  mode tcp',
    '  log global',
    '  timeout connect 5s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout check 5s',
  ];
  for (const section of sections) {
    lines.push(
      `frontend ${section.name}`,
      `  bind 127.0.0.1:${section.port}`,
      `  default_backend ${section.name}_servers`,
      `backend ${section.name}_servers`,
      '  balance roundrobin',
      ...section.checks.map((line) => `  ${line}`),
      ...section.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} ${s.options}`),
    );
  }
  return `${lines.join('\n')}\n`;
}

export async function startHaproxy(dir: string, sections: HaproxySection[]): Promise<Haproxy> {
  const { execa } = await import('execa');
  const config = join(dir, 'haproxy.cfg');
  await writeFile(config, haproxyConfig(dir, sections));
  const child = execa('haproxy', ['-f', config, '-db'], { reject: false, buffer: false, stdin: 'ignore' });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const socket = join(dir, 'haproxy.sock');

  const command = (text: string) =>
    new Promise<string>((resolve, reject) => {
      const conn = connect(socket);
      let answer = '';
      conn.setEncoding('utf8');
      conn.on('data', (chunk: string) => (answer += chunk));
      conn.on('end', () => resolve(answer));
      conn.on('error', reject);
      conn.write(`${text}\n`);
    });

  const stat = async () => {
    const csv = await command('show stat');
    const [head, ...rows] = csv.split('\n').filter((line) => line.trim() !== '');
    const columns = (head ?? '').replace(/^# /, '').split(',');
    const at = (name: string) => columns.indexOf(name);
    return rows
      .map((row) => row.split(','))
      .filter((cells) => !['FRONTEND', 'BACKEND'].includes(cells[at('svname')] ?? ''))
      .map((cells) => ({
        proxy: cells[at('pxname')] ?? '',
        server: cells[at('svname')] ?? '',
        status: cells[at('status')] ?? '',
        checkStatus: cells[at('check_status')] ?? '',
      }));
  };

  const haproxy: Haproxy = {
    config,
    process: child,
    output: () => output,
    stat,
    async waitAllUp(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`haproxy exited:\n${output}`);
        try {
          const rows = await stat();
          last = JSON.stringify(rows);
          if (rows.length > 0 && rows.every((r) => r.status === 'UP')) return;
        } catch {
          // The stats socket is not there yet.
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`haproxy servers not all UP within ${timeoutMs} ms: ${last}\n${output}`);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit').catch(() => undefined);
      }
      await child;
    },
  };
  return haproxy;
}
