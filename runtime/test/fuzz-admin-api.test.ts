// Fuzzing the admin API (runtime/README.md, Guarantees: "Bad input is
// survived"): random methods, paths, headers and bodies, and raw bytes on the
// socket. Every error is JSON {code, message}; no answer carries key material;
// afterwards GET /v1/status answers and POP3 is served. `npm run fuzz` runs the
// same properties 10^5 times.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import {
  checkRawAnswer,
  checkReply,
  fuzzAdminHttp,
  fuzzAdminRaw,
  newAdminStats,
  sendRaw,
  type AdminTarget,
} from '../fuzz/admin-fuzz';
import { stillServes } from '../fuzz/session-fuzz';
import { freePort, startReadyDaemon, type Daemon } from '@pop3-iac/test-kit';

describe('fuzz: the admin API', () => {
  let daemon: Daemon;
  let target: AdminTarget;

  before(async () => {
    const port = await freePort();
    const baseline = { binds: `127.0.0.1 ${port}` };
    daemon = await startReadyDaemon({ config: baseline });
    target = { socket: daemon.socket, port, baseline };
  });
  after(() => daemon.stop());

  /** Status answers; a changed configuration is put back; POP3 is served. */
  const afterCase = async () => {
    assert.equal(daemon.process.exitCode, null, 'pop3d is alive');
    const status = await daemon.admin('GET', '/v1/status');
    assert.equal(status.status, 200, status.text);
    const running = (await daemon.admin('GET', '/v1/config')).body as { deny: unknown[]; permit: unknown[] };
    if (running.deny.length > 0 || running.permit.length > 0) {
      const reset = await daemon.admin('PUT', '/v1/config', target.baseline);
      assert.equal(reset.status, 200, reset.text);
    }
    await stillServes(target.port);
  };

  it('the checks catch what they are for: an error without {code, message}, a raw answer without a body', () => {
    assert.throws(() => checkReply({ status: 400, contentType: 'text/plain', body: 'Bad Request' }, 'GET'), /not JSON/);
    assert.throws(
      () => checkReply({ status: 404, contentType: 'application/json', body: '{"code":""}' }, 'GET'),
      /code, message/,
    );
    assert.throws(
      () => checkRawAnswer(Buffer.from('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')),
      /without a body/,
    );
  });

  // Regression: Node's HTTP server answered these with a bare status line and no body.
  it('malformed HTTP, an unknown Expect and a missing Host get JSON {code, message} or are served', async () => {
    const cases: Array<[string, RegExp]> = [
      ['GARBAGE\r\n\r\n', /^HTTP\/1\.1 400 [^]*"code": "bad_request"/],
      ['GET /v1/status HTTP/1.1\r\nNoColon\r\n\r\n', /^HTTP\/1\.1 400 [^]*"code": "bad_request"/],
      [`GET /v1/status HTTP/1.1\r\nX: ${'x'.repeat(20000)}\r\n\r\n`, /^HTTP\/1\.1 431 [^]*"code": "headers_too_large"/],
      ['GET /v1/status HTTP/1.1\r\n\r\n', /^HTTP\/1\.1 200 [^]*"version"/],
      ['GET /v2 HTTP/1.1\r\nExpect: teapot\r\n\r\n', /^HTTP\/1\.1 404 [^]*"code": "not_found"/],
    ];
    for (const [raw, expected] of cases) {
      const answer = await sendRaw(daemon.socket, Buffer.from(raw));
      assert.match(answer.toString('latin1'), expected, raw.slice(0, 60));
      assert.equal(checkRawAnswer(answer), 1, raw.slice(0, 60));
    }
  });

  it('random requests: JSON errors, no key material, status and POP3 still answer', async (t) => {
    const stats = newAdminStats();
    await fuzzAdminHttp(target, { numRuns: 300, stats, afterCase });
    t.diagnostic(JSON.stringify(stats));
    assert.equal(stats.requests, 300);
    assert.ok(stats.answered >= 200, `answered: ${stats.answered}`);
  });

  it('random bytes on the socket: every answer is HTTP with a JSON error body; the daemon survives', async (t) => {
    const stats = newAdminStats();
    await fuzzAdminRaw(target, { numRuns: 150, stats, afterCase });
    t.diagnostic(JSON.stringify(stats));
    assert.equal(stats.raw, 150);
  });
});
