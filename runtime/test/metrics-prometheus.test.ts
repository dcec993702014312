// A real Prometheus (Debian's, a private instance on a free port) scrapes a real pop3d's
// --metrics-listen; after a known sequence of sessions its query API shows exactly those counts.
// Also: promtool checks a scrape and the shipped alert rules, and the listener serves only /metrics.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { ResultPromise } from 'execa' with { 'resolution-mode': 'import' };
import {
  makeCertificate,
  type TestCertificate,
  freePort,
  RUNTIME_ROOT,
  startDaemon,
  startReadyDaemon,
  type Daemon,
  greeting,
  Pop3Client,
} from '@pop3-iac/test-kit';

const PROMETHEUS_DIR = join(RUNTIME_ROOT, 'prometheus');
/** How long Prometheus may take to start and to show a scrape made after the sequence, in milliseconds. */
const PROMETHEUS_WAIT_MS = 30_000;

const message = (n: number) => `Subject: message ${n}\r\n\r\nbody of message ${n}\r\n`;

interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function http(port: number, method: string, path: string): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + PROMETHEUS_WAIT_MS;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${PROMETHEUS_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Bytes a client socket received, read once the server closed it. */
async function received(socket: Socket): Promise<number> {
  if (!socket.closed) await new Promise((resolve) => socket.once('close', resolve));
  return socket.bytesRead;
}

describe('a real Prometheus scraping --metrics-listen', () => {
  let daemon: Daemon;
  let prometheus: ResultPromise;
  let dir: string;
  let cert: TestCertificate;
  let port: number;
  let sslPort: number;
  let metricsPort: number;
  let promPort: number;
  /** Bytes the clients of the sequence received, all sessions together. */
  let bytesReceived = 0;

  before(async () => {
    const { execa } = await import('execa');
    cert = makeCertificate();
    [port, sslPort, metricsPort, promPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    daemon = await startReadyDaemon({
      config: {
        binds: `127.0.0.1 ${port}`,
        ssl: { enabled: true, binds: `127.0.0.1 ${sslPort}` },
        tls: { certFile: cert.certFile, keyFile: cert.keyFile },
        deny: ['127.0.0.7'],
        limits: { loginFailureDelayMs: 10, loginFailureDelayMaxMs: 40 },
      },
      users: { alice: 'alice-pw', bob: 'bob-pw' },
      mail: { alice: [1, 2, 3, 4].map((n) => ({ content: message(n) })), bob: [{ content: message(5) }] },
      args: ['--metrics-listen', `127.0.0.1:${metricsPort}`],
    });
    dir = await mkdtemp(join(tmpdir(), 'pop3d-prometheus-'));
    await writeFile(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${join(PROMETHEUS_DIR, 'alerts.yml')}`,
        'scrape_configs:',
        '  - job_name: pop3d',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${metricsPort}']`,
        '',
      ].join('\n'),
    );
    prometheus = execa(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { reject: false, stdin: 'ignore', all: true },
    );
    await until('Prometheus ready', async () =>
      (await http(promPort, 'GET', '/-/ready')).status === 200 ? true : undefined,
    );
  });

  after(async () => {
    prometheus?.kill('SIGTERM');
    await prometheus;
    await daemon?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The single value of an instant query, as a number; undefined when the result is empty. */
  async function query(expr: string): Promise<number | undefined> {
    const reply = await http(promPort, 'GET', `/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = JSON.parse(reply.body) as { status: string; data: { result: Array<{ value: [number, string] }> } };
    assert.equal(body.status, 'success', reply.body);
    assert.ok(body.data.result.length <= 1, `${expr} has several series: ${reply.body}`);
    const sample = body.data.result[0];
    return sample === undefined ? undefined : Number(sample.value[1]);
  }

  it('after 2 good and 3 bad logins, 4 RETRs, a DELE+QUIT, a denied address, TLS and an apply, shows exactly those counts', async () => {
    // alice: USER/PASS, RETR 1..4, QUIT.
    const alice = await Pop3Client.open({ host: '127.0.0.1', port });
    await alice.line();
    assert.match((await alice.command('USER alice')) ?? '', /^\+OK/);
    assert.match((await alice.command('PASS alice-pw')) ?? '', /^\+OK/);
    for (const n of [1, 2, 3, 4]) assert.match((await alice.multi(`RETR ${n}`)).status ?? '', /^\+OK/);
    assert.match((await alice.command('QUIT')) ?? '', /^\+OK/);
    bytesReceived += await received(alice.socket);

    // bob: AUTH PLAIN, DELE 1, QUIT: one message removed.
    const bob = await Pop3Client.open({ host: '127.0.0.1', port });
    await bob.line();
    const plain = Buffer.from('\0bob\0bob-pw').toString('base64');
    assert.match((await bob.command(`AUTH PLAIN ${plain}`)) ?? '', /^\+OK/);
    assert.match((await bob.command('DELE 1')) ?? '', /^\+OK/);
    assert.equal(await bob.command('QUIT'), '+OK Logging out (1 deleted)');
    bytesReceived += await received(bob.socket);

    // Three wrong passwords on one connection, each delayed by the throttle.
    const guesser = await Pop3Client.open({ host: '127.0.0.1', port });
    await guesser.line();
    for (let i = 0; i < 3; i++) {
      assert.match((await guesser.command('USER alice')) ?? '', /^\+OK/);
      assert.equal(await guesser.command(`PASS wrong-${i}`), '-ERR [AUTH] Authentication failed');
    }
    assert.match((await guesser.command('QUIT')) ?? '', /^\+OK/);
    bytesReceived += await received(guesser.socket);

    // A denied source address: refused before any greeting.
    assert.equal(await greeting({ host: '127.0.0.1', port, localAddress: '127.0.0.7' }), undefined);

    // Implicit TLS: one handshake that succeeds (then QUIT), one that fails (plain text to the TLS port).
    const raw = connect({ host: '127.0.0.1', port: sslPort });
    const secure = tls.connect({ socket: raw, ca: cert.certPem, servername: 'localhost' });
    await new Promise((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    const tlsVersion = secure.getProtocol();
    await new Promise<void>((resolve) => {
      let text = '';
      secure.on('data', (chunk: Buffer) => {
        if (text.includes('\r\n')) return;
        text += chunk.toString('latin1');
        if (text.includes('\r\n')) secure.write('QUIT\r\n');
      });
      secure.once('close', () => resolve());
    });
    bytesReceived += raw.bytesRead;
    const notTls = await Pop3Client.open({ host: '127.0.0.1', port: sslPort });
    notTls.socket.write('USER alice\r\n');
    await notTls.waitClosed();

    // An apply through the admin socket (the start was the first).
    const current = await daemon.admin('GET', '/v1/config');
    const applied = await daemon.admin(
      'PUT',
      '/v1/config',
      {
        ...(current.body as Record<string, unknown>),
        tls: { certFile: cert.certFile, keyFile: cert.keyFile },
        deny: ['127.0.0.7', '127.0.0.8'],
      },
      { 'If-Match': String(current.headers.etag) },
    );
    assert.equal(applied.status, 200, JSON.stringify(applied.body));

    // Every session's close is counted when its 'session.disconnect' line is written: 4 sessions.
    await until('the 4 sessions closed', async () =>
      daemon.logEvents().filter((e) => e.event === 'session.disconnect').length >= 4 ? true : undefined,
    );
    const settled = Date.now() / 1000;
    await until('a scrape made after the sequence', async () => {
      const at = await query('timestamp(pop3d_uptime_seconds{job="pop3d"})');
      return at !== undefined && at > settled ? true : undefined;
    });

    const expected: Record<string, number> = {
      'sum(pop3d_logins_total{result="success"})': 2,
      'pop3d_logins_total{result="success",mechanism="USER"}': 1,
      'pop3d_logins_total{result="success",mechanism="PLAIN"}': 1,
      'sum(pop3d_logins_total{result="failure"})': 3,
      pop3d_messages_retrieved_total: 4,
      pop3d_messages_deleted_total: 1,
      'pop3d_commands_total{command="RETR",result="ok"}': 4,
      'pop3d_commands_total{command="PASS",result="err"}': 3,
      'pop3d_commands_total{command="DELE",result="ok"}': 1,
      'pop3d_commands_total{command="QUIT",result="ok"}': 4,
      'pop3d_connections_refused_total{rule="127.0.0.7",reason="deny"}': 1,
      'sum(pop3d_connections_refused_total)': 1,
      pop3d_connections_accepted_total: 5,
      pop3d_sent_bytes_total: bytesReceived,
      [`pop3d_tls_handshakes_total{result="success",version="${tlsVersion}"}`]: 1,
      'pop3d_tls_handshakes_total{result="failure",version="none"}': 1,
      pop3d_tls_handshake_failures_total: 1,
      'pop3d_config_applies_total{result="applied"}': 2,
      pop3d_config_generation: 2,
      'sum(pop3d_sessions_open)': 0,
      pop3d_connections_open: 0,
      // Histograms: one observation per session, failed login, mailbox opened and apply.
      pop3d_session_duration_seconds_count: 4,
      pop3d_login_failure_delay_seconds_count: 3,
      pop3d_maildir_scan_duration_seconds_count: 2,
      pop3d_config_apply_duration_seconds_count: 2,
    };
    const actual: Record<string, number | undefined> = {};
    for (const expr of Object.keys(expected)) actual[expr] = await query(expr);
    assert.deepEqual(actual, expected);

    // The throttle doubled: 10 ms, 20 ms, 40 ms.
    assert.equal(await query('pop3d_login_failure_delay_seconds_sum'), 0.07);
    // The process and Node.js defaults, and the scrape itself.
    for (const series of [
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ])
      assert.ok((await query(`${series}{job="pop3d"}`)) !== undefined, `${series} is scraped`);
    assert.ok(((await query('process_resident_memory_bytes{job="pop3d"}')) ?? 0) > 0);
    assert.equal(await query('up{job="pop3d"}'), 1);

    // The admin socket's /metrics reads the same registry.
    const adminText = (await daemon.admin('GET', '/metrics')).text;
    assert.match(adminText, /^pop3d_messages_retrieved_total 4$/m);
    assert.match(adminText, /^pop3d_logins_total\{result="failure",mechanism="USER"\} 3$/m);
    // Bounded labels: no user name and no client address anywhere in a scrape.
    const scrape = (await http(metricsPort, 'GET', '/metrics')).body;
    for (const secret of ['alice', 'bob', '127.0.0.1"', 'alice-pw', 'BEGIN'])
      assert.equal(scrape.includes(secret), false, `a scrape shows ${secret}`);
  });

  it('promtool check metrics finds nothing wrong in a scrape', async () => {
    const { execa } = await import('execa');
    const scrape = await http(metricsPort, 'GET', '/metrics');
    assert.equal(scrape.status, 200);
    assert.match(String(scrape.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const check = await execa('promtool', ['check', 'metrics'], { input: scrape.body, reject: false, all: true });
    assert.equal(check.exitCode, 0, check.all);
    assert.equal(check.all, '');
  });

  it('promtool accepts the shipped alert rules, and their unit tests pass', async () => {
    const { execa } = await import('execa');
    const rules = await execa('promtool', ['check', 'rules', 'alerts.yml'], {
      cwd: PROMETHEUS_DIR,
      reject: false,
      all: true,
    });
    assert.equal(rules.exitCode, 0, rules.all);
    assert.match(rules.all ?? '', /SUCCESS: 4 rules found/);
    const tests = await execa('promtool', ['test', 'rules', 'alerts.test.yml'], {
      cwd: PROMETHEUS_DIR,
      reject: false,
      all: true,
    });
    assert.equal(tests.exitCode, 0, tests.all);
    // The running Prometheus loaded them too.
    const loaded = JSON.parse((await http(promPort, 'GET', '/api/v1/rules')).body) as {
      data: { groups: Array<{ rules: Array<{ name: string }> }> };
    };
    assert.deepEqual(loaded.data.groups.flatMap((g) => g.rules.map((r) => r.name)).sort(), [
      'Pop3dDown',
      'Pop3dEventLoopLag',
      'Pop3dLoginFailureRatioHigh',
      'Pop3dRefusalsSpike',
    ]);
  });

  it('the Grafana dashboard and the alerts query only series pop3d exposes, in PromQL Prometheus accepts', async () => {
    const dashboard = JSON.parse(await readFile(join(RUNTIME_ROOT, 'grafana', 'pop3d.json'), 'utf8')) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    };
    const alerts = await readFile(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8');
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
    assert.ok(exprs.length >= 20, `${exprs.length} dashboard queries`);
    const scrape = (await http(metricsPort, 'GET', '/metrics')).body;
    const exposed = new Set([...scrape.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const used = new Set(
      [...(exprs.map((e) => e.expr).join('\n') + alerts).matchAll(/\b((?:pop3d|process|nodejs)_[a-z0-9_]+)/g)].map(
        (m) => m[1]!.replace(/_(bucket|count|sum)$/, ''),
      ),
    );
    for (const name of used) assert.ok(exposed.has(name), `${name} is used but not exposed`);
    for (const { title, expr } of exprs) {
      const concrete = expr
        .replaceAll('$__rate_interval', '1m')
        .replaceAll('$instance', '.*')
        .replaceAll('$job', 'pop3d');
      const reply = await http(promPort, 'GET', `/api/v1/query?query=${encodeURIComponent(concrete)}`);
      assert.equal(reply.status, 200, `${title}: ${concrete}: ${reply.body}`);
    }
  });

  it('the metrics listener answers nothing but GET and HEAD /metrics', async () => {
    for (const path of ['/', '/v1/config', '/v1/status', '/metrics/', '/metricsx', '/v1/config/validate']) {
      const reply = await http(metricsPort, 'GET', path);
      assert.equal(reply.status, 404, path);
      assert.doesNotMatch(reply.body, /binds|generation|PRIVATE/, path);
    }
    for (const method of ['PUT', 'POST', 'DELETE']) {
      const reply = await http(metricsPort, method, '/metrics');
      assert.equal(reply.status, 405, method);
      assert.equal(reply.headers.allow, 'GET, HEAD');
    }
    assert.equal((await http(metricsPort, 'PUT', '/v1/config')).status, 404);
    const head = await http(metricsPort, 'HEAD', '/metrics');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });
});

describe('pop3d --metrics-listen errors', () => {
  it('a value that is not address:port stops the start with a usage error naming the flag', async () => {
    const daemon = await startDaemon({
      config: { binds: `127.0.0.1 ${await freePort()}` },
      args: ['--metrics-listen', '9110'],
    });
    assert.equal((await daemon.process).exitCode, 2);
    assert.match(daemon.output(), /pop3d: --metrics-listen "9110" is not <address:port>/);
  });

  it('an address in use stops the start, naming the flag and the OS error', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    try {
      const inUse = `127.0.0.1:${(taken.address() as { port: number }).port}`;
      const daemon = await startDaemon({
        config: { binds: `127.0.0.1 ${await freePort()}` },
        args: ['--metrics-listen', inUse],
      });
      assert.equal((await daemon.process).exitCode, 1);
      assert.match(daemon.output(), new RegExp(`pop3d: --metrics-listen ${inUse}: cannot listen \\(EADDRINUSE\\)`));
    } finally {
      taken.close();
    }
  });
});
