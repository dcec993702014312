// One pop3d per --state-dir: a second daemon started on the state directory of
// a running one refuses to start before writing anything: the first one's
// persisted configuration, its files and its admin socket are untouched. A lock
// left by a killed daemon does not block a restart.
import { strict as assert } from 'node:assert';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDaemon, startReadyDaemon, type Daemon } from '@pop3-iac/test-kit';

/** Every file of the state directory with its content and modification time. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const info = await stat(join(dir, name));
    out[name] = info.isFile() ? `${info.mtimeMs} ${await readFile(join(dir, name), 'utf8')}` : `${info.mtimeMs}`;
  }
  return out;
}

describe('one pop3d per state directory', () => {
  let first: Daemon;
  before(async () => {
    // No POP3 listener: nothing but the state directory stands between a second daemon and a full start.
    first = await startReadyDaemon({ config: { binds: [] } });
  });
  after(() => first.stop());

  it('a second pop3d on the same --state-dir exits naming the first, and the first one persisted config is untouched', async () => {
    const before = await snapshot(first.stateDir);
    assert.ok('config.json' in before, 'the first daemon persisted its configuration');
    const second = await startDaemon({ dir: first.dir, config: { binds: [], allowPlaintextAuth: true } });
    const code = await second.process.then((r) => r.exitCode);
    assert.equal(code, 1);
    assert.match(second.output(), new RegExp(`another pop3d \\(pid ${first.process.pid}\\) is running on --state-dir`));
    assert.equal(second.output().includes('pop3d.ready'), false);
    assert.deepEqual(await snapshot(first.stateDir), before);
    const status = await first.admin('GET', '/v1/status');
    assert.equal(status.status, 200);
    assert.equal((status.body as { pid: number }).pid, first.process.pid);
  });

  it('after the first is killed (its pid file left behind), a new pop3d starts on the same --state-dir', async () => {
    const config = (await readFile(join(first.stateDir, 'config.json'), 'utf8')).length;
    await first.stop('SIGKILL');
    assert.ok((await readdir(first.stateDir)).includes('pop3d.pid'), 'the killed daemon left its pid file');
    const next = await startReadyDaemon({ dir: first.dir, config: { binds: [] } });
    try {
      assert.equal((await readFile(join(first.stateDir, 'pop3d.pid'), 'utf8')).trim(), String(next.process.pid));
      assert.equal((await readFile(join(first.stateDir, 'config.json'), 'utf8')).length, config);
    } finally {
      await next.stop();
    }
    assert.equal((await readdir(first.stateDir)).includes('pop3d.pid'), false, 'a clean stop removes the pid file');
  });
});
