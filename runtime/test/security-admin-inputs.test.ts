// Admin inputs that could stall the daemon, against the real pop3d: 60,000
// binds (or 20,000 deny patterns) are refused with a message naming the field
// and the cap, instead of being compared pairwise; a certFile that is a FIFO is
// refused as not a regular file, and the admin API (and its config lock) keeps
// answering.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAX_ACCESS_PATTERNS, MAX_BINDS } from '@pop3-iac/schema';
import type { AdminResponse } from '../src/cli/admin-client';
import { makeCertificate, freePort, startReadyDaemon, type Daemon } from '@pop3-iac/test-kit';

/** How long an admin request may take before the test fails (a stalled daemon never answers), ms. */
const PATIENCE_MS = 15_000;

function answered(request: Promise<AdminResponse>): Promise<AdminResponse> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the admin API within ${PATIENCE_MS} ms`)), PATIENCE_MS);
  });
  return Promise.race([request, late]).finally(() => clearTimeout(timer));
}

interface ErrorBody {
  code: string;
  issues: Array<{ path: string; message: string }>;
}

describe('admin inputs cannot stall the daemon', () => {
  let daemon: Daemon;
  let port: number;
  const cert = makeCertificate();
  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({ config: { binds: `127.0.0.1 ${port}` } });
  });
  after(() => daemon.stop('SIGKILL'));

  it('60,000 binds are refused with a message naming binds and the cap', async () => {
    const binds = Array.from({ length: 60_000 }, (_, i) => `127.0.0.1 ${(i % 65535) + 1}`).join(',');
    const response = await answered(daemon.admin('POST', '/v1/config/validate', { binds }));
    assert.equal(response.status, 400);
    const body = response.body as ErrorBody;
    assert.equal(body.code, 'invalid_config');
    assert.deepEqual(body.issues, [
      { path: 'binds', code: 'custom', message: `has 60000 binds; at most ${MAX_BINDS} are allowed` },
    ]);
  });

  it('ssl.binds as a list over the cap, and 20,000 deny patterns, are refused naming their fields', async () => {
    const sslBinds = Array.from({ length: MAX_BINDS + 1 }, (_, i) => ({ address: '127.0.0.1', port: i + 1 }));
    const deny = Array.from({ length: 20_000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.*`);
    const response = await answered(daemon.admin('POST', '/v1/config/validate', { ssl: { binds: sslBinds }, deny }));
    assert.equal(response.status, 400);
    const issues = (response.body as ErrorBody).issues.map(({ path, message }) => ({ path, message }));
    assert.deepEqual(issues, [
      { path: 'ssl.binds', message: `has ${MAX_BINDS + 1} binds; at most ${MAX_BINDS} are allowed` },
      { path: 'deny', message: `has 20000 patterns; at most ${MAX_ACCESS_PATTERNS} are allowed` },
    ]);
  });

  it('a certFile that is a FIFO is refused as not a regular file, and the admin API keeps answering and applying', async () => {
    const fifo = join(daemon.dir, 'cert-fifo.pem');
    execFileSync('mkfifo', [fifo]);
    const certFile = join(daemon.dir, 'cert.pem');
    const keyFile = join(daemon.dir, 'key.pem');
    await writeFile(certFile, cert.certPem);
    await writeFile(keyFile, cert.keyPem, { mode: 0o600 });
    const withFifo = { binds: `127.0.0.1 ${port}`, starttls: true, tls: { certFile: fifo, keyFile } };
    for (const [method, path] of [
      ['POST', '/v1/config/validate'],
      ['PUT', '/v1/config'],
    ] as const) {
      const response = await answered(daemon.admin(method, path, withFifo));
      assert.equal(response.status, 400, `${method} ${path}`);
      assert.deepEqual(
        (response.body as ErrorBody).issues.map(({ path: p, message }) => ({ path: p, message })),
        [{ path: 'tls.certFile', message: `"${fifo}" is not a regular file` }],
      );
    }
    assert.equal((await answered(daemon.admin('GET', '/v1/status'))).status, 200);
    // The config lock is free: a good apply goes through.
    const good = await answered(daemon.admin('PUT', '/v1/config', { ...withFifo, tls: { certFile, keyFile } }));
    assert.equal(good.status, 200, JSON.stringify(good.body));
  });
});
