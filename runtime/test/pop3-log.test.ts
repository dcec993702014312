/**
 * The JSON-lines logger the session writes through.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { createLogger } from '../src/log';
import { BatchedLogStream } from '../src/log-batch';

/** The `event` of each JSON line in one write of a batched stream, in order. */
function eventsOf(text: string): string[] {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => (JSON.parse(line) as { event: string }).event);
}

describe('logger', () => {
  it('writes one JSON object per line with ts, level, event and fields; child adds fields', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l: string) => lines.push(l) }, { service: 'pop3d' });
    log.info('connect', { peer: '192.0.2.1' });
    log.child({ session: 'a1' }).warn('login.failed', { user: 'alice', reason: 'bad-password' });
    log.error('session.internal_error', { error: Object.assign(new Error('boom'), { code: 'EIO' }) });
    assert.equal(lines.length, 3);
    assert.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
    const [a, b, c] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.match(String(a!.ts), /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual({ ...a, ts: 0 }, { ts: 0, level: 'info', event: 'connect', service: 'pop3d', peer: '192.0.2.1' });
    assert.deepEqual(
      { ...b, ts: 0 },
      {
        ts: 0,
        level: 'warn',
        event: 'login.failed',
        service: 'pop3d',
        session: 'a1',
        user: 'alice',
        reason: 'bad-password',
      },
    );
    assert.deepEqual(c!.error, { name: 'Error', msg: 'boom', code: 'EIO' });
  });

  it('never writes a password, an AUTH payload or message content, at any depth', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l: string) => lines.push(l) });
    log.info('x', {
      password: 'hunter2',
      auth_payload: 'AGFsaWNlAGh1bnRlcjI=',
      nested: { Pass: 'hunter2', body: 'Subject: secret', content: Buffer.from('secret') },
      keyPem: '-----BEGIN PRIVATE KEY-----',
      data: Buffer.from('hunter2'),
    });
    const text = lines.join('');
    for (const secret of ['hunter2', 'AGFsaWNl', 'Subject: secret', 'PRIVATE KEY'])
      assert.ok(!text.includes(secret), secret);
    assert.ok(text.includes('"data":"[7 bytes]"'));
  });

  it('survives a broken stream and unserialisable fields', () => {
    const throwing = createLogger({
      write() {
        throw new Error('EPIPE');
      },
    });
    throwing.info('x');
    const lines: string[] = [];
    const log = createLogger({ write: (l: string) => lines.push(l) });
    log.info('big', { n: 10n });
    assert.equal((JSON.parse(lines[0]!) as { n: string }).n, '10');
  });

  it('batched: the lines of one event-loop turn go out in one write, in order, at the end of the turn', async () => {
    const writes: string[] = [];
    const log = createLogger(new BatchedLogStream({ write: (text: string) => writes.push(text) }));
    log.info('one');
    log.info('two');
    assert.equal(writes.length, 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(writes.length, 1);
    assert.deepEqual(eventsOf(writes[0]!), ['one', 'two']);
  });

  it('batched: flush() on any child logger writes what is pending at once, in order', () => {
    const writes: string[] = [];
    const log = createLogger(new BatchedLogStream({ write: (text: string) => writes.push(text) }));
    const session = log.child({ session: 's1' });
    log.info('connect');
    session.warn('session.too_many_bad_commands');
    session.flush();
    assert.equal(writes.length, 1);
    assert.deepEqual(eventsOf(writes[0]!), ['connect', 'session.too_many_bad_commands']);
    session.flush();
    assert.equal(writes.length, 1, 'nothing pending: nothing written');
  });

  it('batched: what is pending is written when the process exits at once after logging', () => {
    const logBatch = require.resolve('../src/log-batch.js');
    const logModule = require.resolve('../src/log.js');
    const script = `
      const { createLogger } = require(${JSON.stringify(logModule)});
      const { BatchedLogStream } = require(${JSON.stringify(logBatch)});
      const log = createLogger(new BatchedLogStream(process.stdout));
      for (let i = 0; i < 3; i++) log.info('line', { i });
      process.exit(3);`;
    let stdout = '';
    try {
      execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    } catch (err) {
      assert.equal((err as { status: number }).status, 3);
      stdout = (err as { stdout: string }).stdout;
    }
    assert.deepEqual(
      stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { i: number }).i),
      [0, 1, 2],
    );
  });
});
