// Abuse (runtime/README.md, Guarantees: "Abuse"), against the real pop3d: slow
// and idle clients are cut at the configured timeouts without starving others;
// the per-IP connection cap; a login-failure delay that grows per address and
// never slows another address; disconnect after too many bad commands; a 1 MB
// line; clients that never read while RETRieving 20 MB messages (memory
// bounded).
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startServing, freePort, startReadyDaemon, type Daemon, login, Pop3Client } from '@pop3-iac/test-kit';

/** Resident memory of a process, in bytes (VmRSS of /proc/<pid>/status). */
function rss(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match, 'VmRSS in /proc/<pid>/status');
  return Number(match[1]) * 1024;
}

const MB = 1024 * 1024;

/** Waits until the daemon's log holds at least `count` lines of `event` (from `peer`, if given; bounded). */
async function logged(daemon: Daemon, event: string, count: number, peer?: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const matching = () =>
    daemon.logEvents().filter((e) => e.event === event && (peer === undefined || e.peer === peer)).length;
  while (matching() < count) {
    if (Date.now() > deadline) assert.fail(`fewer than ${count} "${event}" log lines within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('slow and idle clients are cut at the configured timeouts without starving others', () => {
  let daemon: Daemon;
  let port: number;
  before(async () => {
    ({ daemon, port } = await startServing({
      config: { limits: { authTimeoutSeconds: 2, idleTimeoutSeconds: 2, maxConnectionsPerIp: 500 } },
      users: { alice: 'secret', bob: 'bob-pw' },
      mail: {
        alice: [{ content: 'Subject: a\r\n\r\nfor alice\r\n' }],
        bob: [{ content: 'Subject: b\r\n\r\nfor bob\r\n' }],
      },
    }));
  });
  after(() => daemon.stop());

  it(
    '40 clients sending a byte every 400 ms and an idle logged-in client are cut; a normal client is served throughout',
    { timeout: 30_000 },
    async () => {
      const start = Date.now();
      // Slow clients: a partial line never counts as activity, so trickling bytes cannot keep a
      // connection open (slowloris); the auth timeout (2 s) runs from the greeting.
      const slow = await Promise.all(
        Array.from({ length: 40 }, () =>
          Pop3Client.open({ host: '127.0.0.1', port, localAddress: '127.0.0.2', timeoutMs: 10_000 }),
        ),
      );
      const trickle = setInterval(() => {
        for (const wire of slow) if (!wire.socket.destroyed) wire.socket.write('U');
      }, 400);
      const slowCut = slow.map(async (wire) => {
        assert.match((await wire.line()) ?? '', /^\+OK/);
        const last = await wire.line();
        await wire.waitClosed();
        return { last, after: Date.now() - start };
      });

      // Idle after login, with a message marked deleted: cut at idleTimeoutSeconds, nothing deleted.
      const idle = await login(
        { host: '127.0.0.1', port, localAddress: '127.0.0.3', timeoutMs: 10_000 },
        'bob',
        'bob-pw',
      );
      assert.match((await idle.command('DELE 1')) ?? '', /^\+OK/);
      const idleCut = (async () => {
        const last = await idle.line();
        await idle.waitClosed();
        return { last, after: Date.now() - start };
      })();

      // Meanwhile a normal client logs in, retrieves and quits, again and again, promptly.
      const latencies: number[] = [];
      while (Date.now() - start < 2500) {
        const t0 = Date.now();
        const wire = await login({ host: '127.0.0.1', port, localAddress: '127.0.0.4' }, 'alice', 'secret');
        const retr = await wire.multi('RETR 1');
        assert.deepEqual(retr.lines, ['Subject: a', '', 'for alice']);
        assert.match((await wire.command('QUIT')) ?? '', /^\+OK/);
        wire.close();
        latencies.push(Date.now() - t0);
      }
      const cut = await Promise.all(slowCut);
      clearInterval(trickle);
      for (const { last, after } of cut) {
        assert.equal(last, '-ERR [SYS/TEMP] Autologout; idle for too long');
        assert.ok(after >= 1900 && after < 6000, `slow client cut after ${after} ms`);
      }
      const idleResult = await idleCut;
      assert.equal(idleResult.last, '-ERR [SYS/TEMP] Autologout; idle for too long');
      assert.ok(idleResult.after >= 1900 && idleResult.after < 7000, `idle client cut after ${idleResult.after} ms`);
      assert.ok(latencies.length >= 3, `normal sessions: ${latencies.length}`);
      assert.ok(Math.max(...latencies) < 1000, `normal sessions took ${latencies.join(', ')} ms`);

      // The idle timeout deleted nothing.
      const bob = await login({ host: '127.0.0.1', port }, 'bob', 'bob-pw');
      assert.match((await bob.command('STAT')) ?? '', /^\+OK 1 /);
      bob.close();
    },
  );
});

describe('the login-failure delay grows per address and never slows another', () => {
  let daemon: Daemon;
  let port: number;
  before(async () => {
    ({ daemon, port } = await startServing({
      config: { limits: { loginFailureDelayMs: 100, loginFailureDelayMaxMs: 1600, maxConnectionsPerIp: 500 } },
      mail: { alice: [{ content: 'Subject: a\r\n\r\nhi\r\n' }] },
    }));
  });
  after(() => daemon.stop());

  /** USER alice / PASS password from `localAddress`; the PASS reply and how long it took. */
  async function attempt(localAddress: string, password: string): Promise<{ reply?: string; ms: number }> {
    const wire = await Pop3Client.open({ host: '127.0.0.1', port, localAddress, timeoutMs: 20_000 });
    try {
      await wire.line();
      await wire.command('USER alice');
      const t0 = Date.now();
      const reply = await wire.command(`PASS ${password}`);
      return { reply, ms: Date.now() - t0 };
    } finally {
      wire.close();
    }
  }

  it(
    '100 wrong passwords from one address: its delay doubles to the cap; logins from another address stay prompt',
    { timeout: 30_000 },
    async () => {
      const burst = Promise.all(Array.from({ length: 100 }, () => attempt('127.0.0.9', 'wrong')));
      // Once all 100 failures are counted (each is logged before its delay is waited out)...
      await logged(daemon, 'login.failed', 100);
      // ...another address logs in while the burst still waits out its delays (no wall-clock bound: an ordering),
      // and its first wrong password is charged the base delay only.
      let burstDone = false;
      void burst.then(() => (burstDone = true));
      const good = await attempt('127.0.0.10', 'secret');
      assert.match(good.reply ?? '', /^\+OK Logged in/);
      assert.equal(burstDone, false, 'the good login from another address waited for the burst');
      const otherWrong = await attempt('127.0.0.10', 'wrong');
      assert.equal(otherWrong.reply, '-ERR [AUTH] Authentication failed');
      const otherDelay = daemon.logEvents().find((e) => e.event === 'login.failed' && e.peer === '127.0.0.10');
      assert.equal(otherDelay?.delayMs, 100, 'a first failure from another address costs the base delay');

      const results = await burst;
      assert.ok(results.every((r) => r.reply === '-ERR [AUTH] Authentication failed'));
      const delays = daemon
        .logEvents()
        .filter((e) => e.event === 'login.failed' && e.peer === '127.0.0.9')
        .map((e) => e.delayMs as number);
      assert.deepEqual(
        [...new Set(delays)].sort((a, b) => a - b),
        [100, 200, 400, 800, 1600],
      );
      assert.equal(delays.filter((d) => d === 1600).length, 96);
      assert.ok(Math.max(...results.map((r) => r.ms)) >= 1500, 'the capped delay was waited out');
      const otherDelays = daemon
        .logEvents()
        .filter((e) => e.event === 'login.failed' && e.peer === '127.0.0.10')
        .map((e) => e.delayMs);
      assert.deepEqual(otherDelays, [100]);

      // The penalty stays with the address that earned it.
      const next = await attempt('127.0.0.9', 'wrong');
      assert.ok(next.ms >= 1500, `the 101st failure took ${next.ms} ms`);
    },
  );
});

describe('connection and command limits', () => {
  let daemon: Daemon;
  let port: number;
  let anyPort: number;
  before(async () => {
    [port, anyPort] = [await freePort(), await freePort()];
    daemon = await startReadyDaemon({
      config: { binds: `127.0.0.1 ${port}, * ${anyPort}`, limits: { maxConnectionsPerIp: 3, maxBadCommands: 3 } },
    });
  });
  after(() => daemon.stop());

  it('the per-IP cap: the 4th connection from one address gets -ERR [SYS/TEMP]; others are served; a slot frees on close', async () => {
    const from = (localAddress: string) => Pop3Client.open({ host: '127.0.0.1', port, localAddress });
    const held = await Promise.all([from('127.0.0.5'), from('127.0.0.5'), from('127.0.0.5')]);
    for (const wire of held) assert.match((await wire.line()) ?? '', /^\+OK/);
    const fourth = await from('127.0.0.5');
    assert.equal(await fourth.line(), '-ERR [SYS/TEMP] too many connections, try later');
    assert.ok(await fourth.waitClosed());
    // Through the dual-stack listener the same client is ::ffff:127.0.0.5: still the same address.
    const mapped = await Pop3Client.open({ host: '127.0.0.1', port: anyPort, localAddress: '127.0.0.5' });
    assert.equal(await mapped.line(), '-ERR [SYS/TEMP] too many connections, try later');
    mapped.close();
    // Another address is not affected.
    const other = await from('127.0.0.6');
    assert.match((await other.line()) ?? '', /^\+OK/);
    other.close();

    assert.match((await held[0]!.command('QUIT')) ?? '', /^\+OK/);
    await held[0]!.waitClosed();
    await logged(daemon, 'session.disconnect', 1, '127.0.0.5');
    const again = await from('127.0.0.5');
    assert.match((await again.line()) ?? '', /^\+OK/);
    for (const wire of [...held, again]) wire.close();

    const status = (await daemon.admin('GET', '/v1/status')).body as {
      counters: { refusedByRule: Record<string, number> };
    };
    assert.equal(status.counters.refusedByRule.maxConnectionsPerIp, 2);
  });

  it('disconnects after too many bad commands (a threshold, not the first)', async () => {
    const wire = await Pop3Client.open({ host: '127.0.0.1', port, localAddress: '127.0.0.7' });
    await wire.line();
    wire.socket.write('BOGUS\r\nRETR 1\r\n\x00\x01\r\nNOOP\r\nCAPA\r\n');
    assert.equal(await wire.line(), '-ERR Unknown command');
    assert.equal(await wire.line(), '-ERR Command not valid in this state');
    assert.equal(await wire.line(), '-ERR Invalid characters in command');
    assert.equal(await wire.line(), '-ERR Too many bad commands');
    assert.ok(await wire.waitClosed());
    await logged(daemon, 'session.too_many_bad_commands', 1, '127.0.0.7');
  });

  it(
    'a 1 MB command line gets one -ERR and the session goes on; a 128 MB one is not buffered',
    { timeout: 30_000 },
    async (t) => {
      const wire = await Pop3Client.open({ host: '127.0.0.1', port, localAddress: '127.0.0.8', timeoutMs: 20_000 });
      assert.match((await wire.line()) ?? '', /^\+OK/);
      wire.socket.write(`NOOP ${'A'.repeat(MB)}\r\nCAPA\r\n`);
      assert.equal(await wire.line(), '-ERR Line too long');
      const capa = await wire.line();
      assert.equal(capa, '+OK Capability list follows');
      while ((await wire.line()) !== '.');

      const pid = daemon.process.pid!;
      const before = rss(pid);
      let peak = before;
      const chunk = Buffer.alloc(256 * 1024, 'B');
      for (let sent = 0; sent < 128 * MB; sent += chunk.length) {
        if (!wire.socket.write(chunk)) await once(wire.socket, 'drain');
        peak = Math.max(peak, rss(pid));
      }
      wire.socket.write('\r\nCAPA\r\n');
      assert.equal(await wire.line(), '-ERR Line too long');
      assert.equal(await wire.line(), '+OK Capability list follows');
      peak = Math.max(peak, rss(pid));
      wire.close();
      t.diagnostic(`RSS grew by ${((peak - before) / MB).toFixed(1)} MB while a 128 MB line arrived`);
      // What grows is garbage (read buffers) awaiting collection; buffering the line would hold 128 MB.
      assert.ok(peak - before < 64 * MB, `RSS grew by ${((peak - before) / MB).toFixed(1)} MB for a 128 MB line`);
    },
  );
});

describe('clients that never read while RETRieving 20 MB messages', () => {
  let daemon: Daemon;
  let port: number;
  const users = { u1: 'p1', u2: 'p2', u3: 'p3', small: 'ps' };
  const big = Buffer.alloc(20 * MB, 'x');
  for (let i = 1000; i < big.length; i += 1000) big.write('\r\n', i - 2, 'latin1');
  big.write('\r\n', big.length - 2, 'latin1');
  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({
      config: { binds: `127.0.0.1 ${port}` },
      users,
      mail: {
        u1: [{ content: big }],
        u2: [{ content: big }],
        u3: [{ content: big }],
        small: [{ content: 'Subject: s\r\n\r\nsmall\r\n' }],
      },
    });
  });
  after(() => daemon.stop());

  it(
    'memory stays bounded (three stalled 20 MB RETRs add less than half their size), others are served, a reader gets every octet',
    { timeout: 60_000 },
    async (t) => {
      const pid = daemon.process.pid!;
      const stalled = await Promise.all(
        ['u1', 'u2', 'u3'].map((u) =>
          login({ host: '127.0.0.1', port, timeoutMs: 30_000 }, u, users[u as keyof typeof users]),
        ),
      );
      const before = rss(pid);
      for (const wire of stalled) {
        wire.socket.pause(); // never reads: the kernel buffers fill and pop3d must wait for 'drain'
        wire.socket.write('RETR 1\r\n');
      }
      // Sample memory while pop3d has written all the sockets will take.
      let peak = before;
      for (let i = 0; i < 30; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        peak = Math.max(peak, rss(pid));
      }
      t.diagnostic(`RSS grew by ${((peak - before) / MB).toFixed(1)} MB with three stalled 20 MB RETRs`);
      // A whole message held in memory would be 20 MB per session (60 MB); streaming holds a few chunks.
      assert.ok(peak - before < 30 * MB, `RSS grew by ${((peak - before) / MB).toFixed(1)} MB`);

      // Another client is served meanwhile.
      const t0 = Date.now();
      const other = await login({ host: '127.0.0.1', port }, 'small', 'ps');
      assert.deepEqual((await other.multi('RETR 1')).lines, ['Subject: s', '', 'small']);
      other.close();
      assert.ok(Date.now() - t0 < 1000, 'a normal session is not starved');

      // One stalled client starts reading: the stream resumes and every octet arrives.
      const reader = stalled[0]!;
      reader.socket.resume();
      const status = await reader.line();
      assert.equal(status, `+OK ${big.length} octets`);
      let octets = 0;
      for (;;) {
        const line = await reader.line();
        if (line === '.') break;
        octets += (line ?? '').length + 2;
      }
      assert.equal(octets, big.length);
      for (const wire of stalled) wire.close();
    },
  );

  it(
    'a client that pipelines commands and never reads the replies is not buffered for: pop3d stops reading',
    { timeout: 30_000 },
    async (t) => {
      const pid = daemon.process.pid!;
      const wire = await login({ host: '127.0.0.1', port }, 'small', 'ps');
      wire.socket.pause();
      const before = rss(pid);
      // 10 MB of CAPA: about 170 MB of replies if pop3d kept answering into memory.
      wire.socket.write(Buffer.from('CAPA\r\n'.repeat(Math.floor((10 * MB) / 6))));
      let peak = before;
      for (let i = 0; i < 20; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        peak = Math.max(peak, rss(pid));
      }
      t.diagnostic(`RSS grew by ${((peak - before) / MB).toFixed(1)} MB; ${wire.socket.writableLength} octets unsent`);
      assert.ok(peak - before < 30 * MB, `RSS grew by ${((peak - before) / MB).toFixed(1)} MB`);
      assert.ok(wire.socket.writableLength > 0, 'pop3d stopped reading, so the client could not send it all');
      wire.close();
      assert.equal(daemon.process.exitCode, null);
    },
  );
});
