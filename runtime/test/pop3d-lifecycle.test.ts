// pop3d's life as an operator sees it: start-up errors that say what to do,
// the persisted config winning over --config, and SIGTERM draining sessions.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  freePort,
  POP3D_BIN,
  removeDir,
  startDaemon,
  startReadyDaemon,
  login,
  makeCertificate,
} from '@pop3-iac/test-kit';

async function failedStart(config: unknown, options: { args?: string[]; prefix?: string[] } = {}) {
  const daemon = await startDaemon({ config, args: options.args });
  const code = await daemon.process.then((r) => r.exitCode);
  return { code, output: daemon.output() };
}

describe('start-up errors say what to do', () => {
  it('address in use names the bind', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as { port: number };
    try {
      const { code, output } = await failedStart({ binds: `127.0.0.1 ${port}` });
      assert.equal(code, 1);
      assert.match(
        output,
        new RegExp(`cannot listen on pop3 127\\.0\\.0\\.1:${port}: the address and port are in use by another process`),
      );
    } finally {
      blocker.close();
    }
  });

  it('a privileged port without the capability names the remedy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pop3d-priv-'));
    await writeFile(join(dir, 'users'), 'alice:{PLAIN}x\n');
    await writeFile(join(dir, 'config.json'), JSON.stringify({ binds: '127.0.0.1 110' }));
    let output = '';
    try {
      // Root without CAP_NET_BIND_SERVICE is what a non-root operator is.
      execFileSync(
        'setpriv',
        [
          '--bounding-set=-net_bind_service',
          'node',
          POP3D_BIN,
          '--config',
          join(dir, 'config.json'),
          '--users',
          join(dir, 'users'),
          '--maildir-root',
          dir,
          '--state-dir',
          join(dir, 'state'),
        ],
        { encoding: 'utf8', stdio: 'pipe' },
      );
    } catch (error) {
      output = String((error as { stderr: string }).stderr);
    }
    assert.match(output, /port 110 is privileged: run as root, grant CAP_NET_BIND_SERVICE .* or use a port above 1023/);
  });

  it('a missing certificate file names the field and the path', async () => {
    const { code, output } = await failedStart({
      binds: `127.0.0.1 ${await freePort()}`,
      starttls: true,
      tls: { certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' },
    });
    assert.equal(code, 1);
    assert.match(output, /tls\.certFile: "\/nonexistent\/cert\.pem" does not exist/);
  });

  it('a certificate that does not match its key is refused', async () => {
    const [a, b] = [makeCertificate('a'), makeCertificate('b')];
    const { code, output } = await failedStart({
      binds: `127.0.0.1 ${await freePort()}`,
      starttls: true,
      tls: { certFile: a.certFile, keyFile: b.keyFile },
    });
    assert.equal(code, 1);
    assert.match(output, /tls\.keyFile: does not match the certificate/);
  });

  it('an invalid --config file lists every issue by path and starts nothing', async () => {
    const { code, output } = await failedStart({ binds: '127.0.0.1 99999', limits: { idleTimeoutSecond: 5 } });
    assert.equal(code, 1);
    assert.match(output, /binds\[0\]\.port: must be a port from 1 to 65535/);
    assert.match(output, /limits\.idleTimeoutSecond: is not a known field/);
  });

  it('usage errors exit 2 with the usage text', async () => {
    const { execa } = await import('execa');
    const result = await execa('node', [POP3D_BIN, '--users', '/x'], { reject: false });
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /missing --maildir-root, --state-dir/);
    assert.match(result.stderr, /usage: pop3d --config/);
  });
});

describe('SIGTERM drains', () => {
  it('a session gets its chance to QUIT; one that does not gets -ERR [SYS/TEMP]; exit 0; nothing deleted', async () => {
    const port = await freePort();
    const daemon = await startReadyDaemon({
      config: { binds: `127.0.0.1 ${port}` },
      users: { alice: 'a', bob: 'b' },
      mail: { alice: [{ content: 'Subject: 1\r\n\r\nx\r\n' }], bob: [{ content: 'Subject: 2\r\n\r\ny\r\n' }] },
    });
    const polite = await login({ host: '127.0.0.1', port }, 'alice', 'a');
    const stubborn = await login({ host: '127.0.0.1', port }, 'bob', 'b');
    assert.match((await stubborn.command('DELE 1')) ?? '', /^\+OK/);
    const exit = daemon.stop('SIGTERM');
    await daemon.waitForEvent('pop3d.draining');
    assert.match((await polite.command('QUIT')) ?? '', /^\+OK/);
    assert.match((await stubborn.line()) ?? '', /^-ERR \[SYS\/TEMP\]/);
    assert.equal(await exit, 0);
    const bobFiles = execFileSync('ls', [join(daemon.maildirRoot, 'bob', 'Maildir', 'cur')], { encoding: 'utf8' })
      .trim()
      .split('\n');
    assert.equal(bobFiles.length, 1, 'a DELE without QUIT deletes nothing');
    assert.ok(
      (await readFile(join(daemon.maildirRoot, 'bob', 'Maildir', 'cur', bobFiles[0]!), 'utf8')).includes('Subject: 2'),
    );
  });
});

describe('the daemon keeps one identity', () => {
  it('instanceId in GET /v1/status is a UUID kept across restarts, and differs between state directories', async () => {
    const config = { binds: `127.0.0.1 ${await freePort()}` };
    const first = await startReadyDaemon({ config });
    const other = await startReadyDaemon({ config: { binds: `127.0.0.1 ${await freePort()}` } });
    try {
      const id = ((await first.admin('GET', '/v1/status')).body as { instanceId: string }).instanceId;
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal((await readFile(join(first.stateDir, 'instance-id'), 'utf8')).trim(), id);
      const otherId = ((await other.admin('GET', '/v1/status')).body as { instanceId: string }).instanceId;
      assert.notEqual(otherId, id);

      assert.equal(await first.stop(), 0);
      const again = await startReadyDaemon({ config, dir: first.dir });
      try {
        assert.equal(((await again.admin('GET', '/v1/status')).body as { instanceId: string }).instanceId, id);
      } finally {
        await again.stop();
      }
    } finally {
      await first.stop();
      await other.stop();
      await removeDir(first.dir);
      await removeDir(other.dir);
    }
  });
});
