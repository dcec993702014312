// pop3ctl against the real daemon: output, --json, and documented exit codes.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, POP3CTL_BIN, startReadyDaemon, type Daemon } from '@pop3-iac/test-kit';

async function pop3ctl(args: string[], input?: string) {
  const { execa } = await import('execa');
  return execa('node', [POP3CTL_BIN, ...args], { reject: false, input });
}

describe('pop3ctl', () => {
  let daemon: Daemon;
  let dir: string;
  let port: number;

  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({ config: { binds: `127.0.0.1 ${port}` } });
    dir = await mkdtemp(join(tmpdir(), 'pop3ctl-'));
  });
  after(() => daemon.stop());

  const file = async (name: string, config: unknown) => {
    const path = join(dir, name);
    await writeFile(path, typeof config === 'string' ? config : JSON.stringify(config));
    return path;
  };

  it('get prints the config and its ETag; --json is machine-readable', async () => {
    const text = await pop3ctl(['--socket', daemon.socket, 'get']);
    assert.equal(text.exitCode, 0);
    assert.match(text.stdout, /^# ETag: "[0-9a-f]+"/);
    const json = await pop3ctl(['--socket', daemon.socket, '--json', 'get']);
    const parsed = JSON.parse(json.stdout) as { etag: string; config: { binds: unknown } };
    assert.deepEqual(parsed.config.binds, [{ address: '127.0.0.1', port }]);
  });

  it('status lists the listeners', async () => {
    const result = await pop3ctl(['--socket', daemon.socket, 'status']);
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, new RegExp(`pop3 127\\.0\\.0\\.1:${port}\\s+listening`));
  });

  it('diff exits 0 for the running config and 1 with the changed fields otherwise', async () => {
    const same = await pop3ctl([
      '--socket',
      daemon.socket,
      'diff',
      await file('same.json', { binds: `127.0.0.1 ${port}` }),
    ]);
    assert.equal(same.exitCode, 0, same.stderr);
    assert.match(same.stdout, /no changes/);
    const other = await pop3ctl([
      '--socket',
      daemon.socket,
      'diff',
      await file('deny.json', { binds: `127.0.0.1 ${port}`, deny: '10.*' }),
    ]);
    assert.equal(other.exitCode, 1);
    assert.match(other.stdout, /~ deny: \[\] -> \["10\.\*"\]/);
  });

  it('validate exits 3 naming each bad field', async () => {
    const result = await pop3ctl([
      '--socket',
      daemon.socket,
      'validate',
      await file('bad.json', { port: 70000, deny: ['1.2.3.4/40'] }),
    ]);
    assert.equal(result.exitCode, 3);
    assert.match(result.stderr, /port: must be a port from 1 to 65535/);
    assert.match(result.stderr, /deny\[0\]: prefix length/);
  });

  it('apply prints the plan, then applies', async () => {
    const next = await freePort('127.0.0.2');
    const result = await pop3ctl([
      '--socket',
      daemon.socket,
      'apply',
      await file('next.json', { binds: `127.0.0.2 ${next}` }),
    ]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`\\+ open  pop3 127\\.0\\.0\\.2:${next}`));
    assert.match(result.stdout, new RegExp(`- close pop3 127\\.0\\.0\\.1:${port}`));
    assert.match(result.stdout, /applied: generation 2/);
    port = next;
  });

  it('apply with a stale --if-match exits 4', async () => {
    const result = await pop3ctl([
      '--socket',
      daemon.socket,
      '--if-match',
      '"stale"',
      'apply',
      await file('x.json', { binds: `127.0.0.2 ${port}`, deny: ['10.*'] }),
    ]);
    assert.equal(result.exitCode, 4);
    assert.match(result.stderr, /stale/);
  });

  it('exits 6 when the daemon is unreachable, 2 on usage errors', async () => {
    const gone = await pop3ctl(['--socket', join(dir, 'nothing.sock'), 'status']);
    assert.equal(gone.exitCode, 6);
    assert.match(gone.stderr, /cannot reach pop3d/);
    assert.equal((await pop3ctl(['--socket', daemon.socket, 'frobnicate'])).exitCode, 2);
    assert.equal((await pop3ctl(['--socket', daemon.socket, 'apply'])).exitCode, 2);
    const notJson = await pop3ctl(['--socket', daemon.socket, 'apply', await file('nope.json', 'binds: *')]);
    assert.equal(notJson.exitCode, 2);
    assert.match(notJson.stderr, /is not JSON/);
  });

  it('user add writes a SHA512-CRYPT line that pop3d accepts', async () => {
    const users = join(dir, 'users');
    await writeFile(users, 'alice:{PLAIN}secret\n');
    const result = await pop3ctl(['user', 'add', users, 'bob'], 'hunter2\n');
    assert.equal(result.exitCode, 0, result.stderr);
    const text = await readFile(users, 'utf8');
    assert.match(text, /^alice:\{PLAIN\}secret$/m);
    assert.match(text, /^bob:\{SHA512-CRYPT\}\$6\$[^:\s]+$/m);
    assert.doesNotMatch(text, /hunter2/);
    const hash = await pop3ctl(['hash'], 'hunter2\n');
    assert.match(hash.stdout, /^\{SHA512-CRYPT\}\$6\$/);
  });
});
