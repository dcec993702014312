// Refused connections end in a destroyed socket: a client over
// maxConnectionsPerIp that sends a command before reading its -ERR, or that
// never reads and never closes, must not keep a descriptor in pop3d. Counted in
// /proc/<pid>/fd of the real daemon.
import { strict as assert } from 'node:assert';
import { readdir } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePort, startReadyDaemon, type Daemon, Pop3Client } from '@pop3-iac/test-kit';

/** Open descriptors of a process. */
async function descriptors(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** Waits (polling, up to `patienceMs`) until the daemon holds no more than `baseline` descriptors; returns the last count. */
async function settle(pid: number, baseline: number, patienceMs = 15_000): Promise<number> {
  const deadline = Date.now() + patienceMs;
  let count = await descriptors(pid);
  while (count > baseline && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    count = await descriptors(pid);
  }
  return count;
}

/** Connections pop3d refused over maxConnectionsPerIp so far. */
async function refusals(daemon: Daemon): Promise<number> {
  const status = (await daemon.admin('GET', '/v1/status')).body as {
    counters: { refusedByRule: Record<string, number> };
  };
  return status.counters.refusedByRule.maxConnectionsPerIp ?? 0;
}

/** Connects from `localAddress`, sends CAPA at once, and resolves with the socket and what the server sent before closing. */
function refusedAfterTalking(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let received = '';
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write('CAPA\r\n'));
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received));
    socket.on('end', () => socket.destroy());
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error('the refused connection was never closed by the server'));
    });
  });
}

describe('refused connections end in a destroyed socket', () => {
  let daemon: Daemon;
  let port: number;
  let held: Pop3Client[] = [];
  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({ config: { binds: `127.0.0.1 ${port}`, limits: { maxConnectionsPerIp: 2 } } });
  });
  after(async () => {
    for (const wire of held) wire.close();
    await daemon.stop();
  });

  it('200 connections over maxConnectionsPerIp that send CAPA first leave the descriptor count at its baseline', async () => {
    const pid = daemon.process.pid!;
    held = [
      await Pop3Client.open({ host: '127.0.0.1', port, localAddress: '127.0.0.9' }),
      await Pop3Client.open({ host: '127.0.0.1', port, localAddress: '127.0.0.9' }),
    ];
    for (const wire of held) assert.match((await wire.line()) ?? '', /^\+OK/);
    const baseline = await descriptors(pid);
    for (let round = 0; round < 10; round++) {
      const replies = await Promise.all(Array.from({ length: 20 }, () => refusedAfterTalking(port, '127.0.0.9')));
      for (const reply of replies) assert.equal(reply, '-ERR [SYS/TEMP] too many connections, try later\r\n');
    }
    assert.equal(await settle(pid, baseline), baseline);
    assert.equal(await refusals(daemon), 200);
  });

  it('refused peers that send CAPA and then never read nor close still lose their descriptors in pop3d', async () => {
    const pid = daemon.process.pid!;
    if (held.length === 0) {
      held = [
        await Pop3Client.open({ host: '127.0.0.1', port, localAddress: '127.0.0.9' }),
        await Pop3Client.open({ host: '127.0.0.1', port, localAddress: '127.0.0.9' }),
      ];
      for (const wire of held) assert.match((await wire.line()) ?? '', /^\+OK/);
    }
    const baseline = await descriptors(pid);
    const start = await refusals(daemon);
    const silent: Socket[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.9' });
        socket.on('error', () => undefined);
        socket.on('connect', () => {
          socket.write('CAPA\r\n');
          socket.pause(); // never reads: what the server sends stays in the kernel
        });
        silent.push(socket);
      }
      await Promise.all(
        silent.map((s) => new Promise((resolve) => (s.connecting ? s.once('connect', resolve) : resolve(undefined)))),
      );
      // pop3d has seen (and refused) every one of them before its descriptors are counted.
      while ((await refusals(daemon)) < start + silent.length) await new Promise((resolve) => setTimeout(resolve, 50));
      // Every client socket is still open here: only pop3d can bring its count back down.
      assert.equal(await settle(pid, baseline), baseline);
      assert.ok(silent.every((s) => !s.destroyed));
    } finally {
      for (const socket of silent) socket.destroy();
    }
  });
});
