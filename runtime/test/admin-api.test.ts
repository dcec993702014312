// The admin API contract (runtime/README.md "Admin API") against the real
// pop3d, with curl as the client a user would reach for, and raw requests for
// the malformed cases.
import { strict as assert } from 'node:assert';
import { stat } from 'node:fs/promises';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { freePort, startReadyDaemon, type Daemon } from '@pop3-iac/test-kit';

async function curl(args: string[]): Promise<{ stdout: string; exitCode: number | undefined }> {
  const { execa } = await import('execa');
  const result = await execa('curl', ['--silent', '--show-error', ...args], { reject: false });
  return { stdout: result.stdout, exitCode: result.exitCode };
}

describe('admin API', () => {
  let daemon: Daemon;
  let port: number;

  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({ config: { binds: `127.0.0.1 ${port}` } });
  });
  after(() => daemon.stop());

  it('the socket is mode 0600', async () => {
    const info = await stat(daemon.socket);
    assert.ok(info.isSocket());
    assert.equal(info.mode & 0o777, 0o600);
  });

  it('curl --unix-socket SOCK http://localhost/v1/status works as the README shows', async () => {
    const { stdout, exitCode } = await curl(['--unix-socket', daemon.socket, 'http://localhost/v1/status']);
    assert.equal(exitCode, 0);
    const status = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(typeof status.version, 'string');
    assert.equal(typeof status.uptimeSeconds, 'number');
    assert.equal(status.generation, 1);
    assert.deepEqual(status.listeners, [
      { address: '127.0.0.1', port, tls: false, state: 'listening', accepted: 0, refused: 0 },
    ]);
  });

  it('GET /v1/config returns the canonical config with an ETag', async () => {
    const { stdout } = await curl(['--include', '--unix-socket', daemon.socket, 'http://localhost/v1/config']);
    assert.match(stdout, /^ETag: "[0-9a-f]{32}"\r$/im);
    const body = JSON.parse(stdout.slice(stdout.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
    assert.deepEqual(body.binds, [{ address: '127.0.0.1', port }]);
    assert.equal(body.port, 110);
  });

  it('HEAD /v1/config (curl --head) answers the headers of GET, ETag included, without a body', async () => {
    const get = await curl(['--include', '--unix-socket', daemon.socket, 'http://localhost/v1/config']);
    const head = await curl(['--head', '--unix-socket', daemon.socket, 'http://localhost/v1/config']);
    assert.equal(head.exitCode, 0);
    assert.match(head.stdout, /^HTTP\/1\.1 200 /);
    const etag = (text: string): string | undefined => /^ETag: (.*)\r$/im.exec(text)?.[1];
    assert.equal(etag(head.stdout), etag(get.stdout));
    assert.match(get.stdout, /"binds"/);
    assert.doesNotMatch(head.stdout, /"binds"/);
    const wrong = await curl([
      '--include',
      '-X',
      'DELETE',
      '--unix-socket',
      daemon.socket,
      'http://localhost/v1/status',
    ]);
    assert.match(wrong.stdout, /^Allow: GET, HEAD\r$/im);
  });

  it('PUT with curl applies; an invalid config is 400 with the issues by path, and nothing changes', async () => {
    const before = await daemon.admin('GET', '/v1/config');
    const bad = await curl([
      '--unix-socket',
      daemon.socket,
      '-X',
      'PUT',
      '-H',
      'Content-Type: application/json',
      '--data',
      JSON.stringify({ binds: '127.0.0.1 70000', permit: ['10.0.0.0/33'], ssl: { enabled: true } }),
      '--write-out',
      '\n%{http_code}',
      'http://localhost/v1/config',
    ]);
    const [json, code] = [
      bad.stdout.slice(0, bad.stdout.lastIndexOf('\n')),
      bad.stdout.slice(bad.stdout.lastIndexOf('\n') + 1),
    ];
    assert.equal(code, '400');
    const body = JSON.parse(json) as { code: string; issues: Array<{ path: string }> };
    assert.equal(body.code, 'invalid_config');
    assert.deepEqual(body.issues.map((i) => i.path).sort(), ['binds[0].port', 'permit[0]', 'tls']);
    const after = await daemon.admin('GET', '/v1/config');
    assert.equal(after.headers.etag, before.headers.etag);
  });

  it('POST /v1/config/validate is a dry run returning the plan', async () => {
    const other = await freePort('127.0.0.2');
    const response = await daemon.admin('POST', '/v1/config/validate', { binds: `127.0.0.2 ${other}`, deny: ['10.*'] });
    assert.equal(response.status, 200, response.text);
    const body = response.body as {
      valid: boolean;
      plan: { open: unknown[]; close: unknown[] };
      changes: Array<{ path: string }>;
    };
    assert.equal(body.valid, true);
    assert.deepEqual(body.plan.open, [{ address: '127.0.0.2', port: other, tls: false }]);
    assert.deepEqual(body.plan.close, [{ address: '127.0.0.1', port, tls: false }]);
    assert.deepEqual(
      body.changes.map((c) => c.path),
      ['binds', 'deny'],
    );
    const status = (await daemon.admin('GET', '/v1/status')).body as { listeners: Array<{ port: number }> };
    assert.deepEqual(
      status.listeners.map((l) => l.port),
      [port],
      'nothing was applied',
    );
  });

  it('GET /metrics is Prometheus text', async () => {
    const response = await daemon.admin('GET', '/metrics');
    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(response.text, /^# TYPE pop3d_config_generation gauge$/m);
    assert.match(response.text, /^pop3d_config_generation 1$/m);
    assert.match(
      response.text,
      /^pop3d_listener_connections_total\{listener="pop3 127\.0\.0\.1:\d+",outcome="accepted"\} \d+$/m,
    );
  });

  const malformed: Array<{
    name: string;
    method: string;
    path: string;
    body?: string;
    headers?: Record<string, string>;
    status: number;
    code: string;
  }> = [
    { name: 'unknown path', method: 'GET', path: '/v2/config', status: 404, code: 'not_found' },
    { name: 'wrong method', method: 'DELETE', path: '/v1/config', status: 405, code: 'method_not_allowed' },
    {
      name: 'body that is not JSON',
      method: 'PUT',
      path: '/v1/config',
      body: '{binds:',
      status: 400,
      code: 'bad_json',
    },
    { name: 'empty body', method: 'PUT', path: '/v1/config', body: '', status: 400, code: 'bad_json' },
    {
      name: 'XML body',
      method: 'PUT',
      path: '/v1/config',
      body: '<x/>',
      headers: { 'Content-Type': 'application/xml' },
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      // Declares 1.1 MiB and sends only the start: the daemon must answer without reading the rest.
      name: 'body over the cap',
      method: 'POST',
      path: '/v1/config/validate',
      body: '{"x":"aaaa',
      headers: { 'Content-Length': String(1100 * 1024) },
      status: 413,
      code: 'body_too_large',
    },
  ];
  for (const testCase of malformed) {
    it(`${testCase.name}: ${testCase.status} ${testCase.code}`, async () => {
      const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          {
            socketPath: daemon.socket,
            method: testCase.method,
            path: testCase.path,
            headers: { 'Content-Type': 'application/json', ...testCase.headers },
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () => {
              req.destroy();
              resolve({ status: res.statusCode ?? 0, body });
            });
          },
        );
        req.on('error', reject);
        if (testCase.headers?.['Content-Length']) req.write(testCase.body);
        else req.end(testCase.body);
      });
      assert.equal(response.status, testCase.status);
      const body = JSON.parse(response.body) as { code: string; message: string };
      assert.equal(body.code, testCase.code);
      assert.ok(body.message.length > 0);
    });
  }
});
