// Crash safety (runtime/README.md, Guarantees: "Mail is never lost"): the real
// pop3d is killed with SIGKILL in the middle of a QUIT that deletes 1,000
// messages, at random moments during sessions doing DELE+QUIT, during applies,
// and the persisted-config write is killed in a loop. After each restart: no
// message lost that a completed QUIT did not delete, no file changed or
// half-written, the persisted configuration is the old one or the new one, and
// pop3d serves.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseConfig } from '@pop3-iac/schema';
import { ConfigStore } from '../src/admin/config-store';
import {
  freePort,
  removeDir,
  RUNTIME_ROOT,
  startReadyDaemon,
  type Daemon,
  type MessageSpec,
  login,
  Pop3Client,
} from '@pop3-iac/test-kit';

const started: Daemon[] = [];
after(async () => {
  for (const daemon of started) {
    await daemon.stop('SIGKILL');
    await removeDir(daemon.dir);
  }
});

async function start(options: Parameters<typeof startReadyDaemon>[0]): Promise<Daemon> {
  const daemon = await startReadyDaemon(options);
  started.push(daemon);
  return daemon;
}

/** Message i of a mailbox: a unique name in cur/ and unique content (so a swapped or torn file shows). */
function message(tag: string, i: number): Required<Pick<MessageSpec, 'name' | 'content' | 'folder'>> {
  const body = createHash('sha256').update(`${tag} ${i}`).digest('hex').repeat(4);
  return {
    name: `${1700000000 + i}.M${i}P1.${tag}:2,S`,
    content: `Subject: ${tag} ${i}\r\nMessage-ID: <${tag}.${i}@test>\r\n\r\n${body}\r\n`,
    folder: 'cur',
  };
}

/** Names and contents of every file in a Maildir's cur/ and new/; tmp/ must hold nothing. */
async function maildirState(daemon: Daemon, user: string): Promise<Map<string, string>> {
  const dir = join(daemon.maildirRoot, user, 'Maildir');
  assert.deepEqual(await readdir(join(dir, 'tmp')), [], 'nothing half-written in tmp/');
  const files = new Map<string, string>();
  for (const sub of ['cur', 'new'])
    for (const name of await readdir(join(dir, sub))) files.set(name, await readFile(join(dir, sub, name), 'utf8'));
  return files;
}

/** Every file present is an original, byte for byte; none was renamed or added. */
function assertIntact(files: Map<string, string>, originals: ReadonlyArray<ReturnType<typeof message>>): void {
  const byName = new Map(originals.map((m) => [m.name, m.content]));
  for (const [name, content] of files) {
    assert.ok(byName.has(name), `unexpected file ${name}`);
    assert.equal(content, byName.get(name), `${name} changed`);
  }
}

describe('kill -9 in the middle of a QUIT that deletes 1,000 messages', () => {
  /**
   * One attempt: 1,200 messages, DELE 1..1000, QUIT, SIGKILL as soon as the
   * first file is gone. Checks the Maildir, restarts and serves. Returns how
   * many of the 1,000 deletions were done when the process died.
   */
  async function attempt(round: number, watched: number): Promise<number> {
    const port = await freePort();
    const config = { binds: `127.0.0.1 ${port}` };
    const originals = Array.from({ length: 1200 }, (_, i) => message(`quit${round}`, i));
    const daemon = await start({ config, mail: { alice: originals } });
    const cur = join(daemon.maildirRoot, 'alice', 'Maildir', 'cur');

    const wire = await login({ host: '127.0.0.1', port, timeoutMs: 20_000 }, 'alice', 'secret');
    wire.socket.write(Array.from({ length: 1000 }, (_, i) => `DELE ${i + 1}\r\n`).join(''));
    for (let i = 1; i <= 1000; i++) assert.equal(await wire.line(), `+OK Message ${i} deleted`);

    // QUIT, and as soon as message `watched` is gone (the UPDATE state is under way), SIGKILL.
    // Deletions go in message order, a few at a time: watch that one file with stat(), which
    // costs microseconds, in the same synchronous stretch as the write of QUIT.
    const pid = daemon.process.pid!;
    const first = join(cur, originals[watched - 1]!.name);
    wire.socket.write('QUIT\r\n');
    const deadline = Date.now() + 20_000;
    while (existsSync(first)) if (Date.now() > deadline) assert.fail('QUIT deleted nothing within 20 s');
    process.kill(pid, 'SIGKILL');
    const removedAtKill = 1200 - readdirSync(cur).length;
    wire.close();
    await daemon.stop('SIGKILL');
    assert.equal((await daemon.process).signal, 'SIGKILL');

    const files = await maildirState(daemon, 'alice');
    assertIntact(files, originals);
    for (const kept of originals.slice(1000)) assert.ok(files.has(kept.name), `${kept.name} was not deleted`);
    const removed = 1200 - files.size;
    assert.ok(removed >= removedAtKill, 'what was seen removed stays removed');

    const again = await start({ config, dir: daemon.dir });
    const session = await login({ host: '127.0.0.1', port }, 'alice', 'secret');
    const stat = await session.command('STAT');
    assert.match(stat ?? '', new RegExp(`^\\+OK ${files.size} \\d+$`));
    const uidl = await session.multi('UIDL');
    assert.deepEqual(
      uidl.lines.map((l) => l.split(' ')[1]),
      originals.filter((m) => files.has(m.name)).map((m) => m.name.split(':')[0]),
    );
    const last = await session.multi(`RETR ${files.size}`);
    assert.equal(last.lines.join('\r\n') + '\r\n', originals[1199]!.content);
    assert.match((await session.command('QUIT')) ?? '', /^\+OK/);
    session.close();
    assert.equal(again.process.exitCode, null);
    await again.stop();
    await removeDir(daemon.dir);
    return removed;
  }

  it(
    'every message is intact or was deleted by that session; pop3d starts again and serves',
    { timeout: 90_000 },
    async (t) => {
      // A loaded machine can deschedule this process long enough for all 1,000 deletions to
      // finish before the kill; such an attempt still checks the invariants, and another is made.
      const removed: number[] = [];
      const watched = 1 + Math.floor(Math.random() * 900);
      for (let round = 1; round <= 4 && !removed.some((n) => n < 1000); round++)
        removed.push(await attempt(round, round === 1 ? watched : 1));
      t.diagnostic(`SIGKILL after ${removed.join(', ')} of the 1,000 deletions`);
      assert.ok(
        removed.some((n) => n < 1000),
        'no attempt was killed in the middle of the UPDATE state',
      );
    },
  );
});

describe('kill -9 at random moments during sessions doing DELE+QUIT', () => {
  it(
    'no message is lost that a completed QUIT did not delete; nothing is changed or half-written',
    { timeout: 60_000 },
    async () => {
      const users = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`u${i}`, `pw${i}`]));
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 60 }),
          fc.array(fc.tuple(fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 40 }), fc.boolean()), {
            minLength: 6,
            maxLength: 6,
          }),
          async (killAfterMs, plans) => {
            round++;
            const port = await freePort();
            const config = { binds: `127.0.0.1 ${port}` };
            const originals = Object.fromEntries(
              Object.keys(users).map((u) => [u, Array.from({ length: 40 }, (_, i) => message(`${u}r${round}`, i))]),
            );
            const daemon = await start({ config, users, mail: originals });

            // Each session: login, DELE its numbers, then QUIT (or just stay), recording what it was told.
            const outcomes = Object.keys(users).map((user, i) => {
              const [numbers, quit] = plans[i]!;
              const result = { user, numbers, quitSent: false, quitOk: false };
              const run = async () => {
                const wire = await Pop3Client.open({ host: '127.0.0.1', port, timeoutMs: 10_000 });
                try {
                  await wire.line();
                  await wire.command(`USER ${user}`);
                  if (!(await wire.command(`PASS ${users[user]}`))?.startsWith('+OK')) return;
                  wire.socket.write(numbers.map((n) => `DELE ${n}\r\n`).join(''));
                  for (const _ of numbers) if (!(await wire.line())?.startsWith('+OK')) return;
                  if (!quit) return;
                  result.quitSent = true;
                  result.quitOk = (await wire.command('QUIT'))?.startsWith('+OK') ?? false;
                } finally {
                  wire.close();
                }
              };
              return { result, done: run().catch(() => undefined) };
            });
            await new Promise((resolve) => setTimeout(resolve, killAfterMs));
            await daemon.stop('SIGKILL');
            await Promise.all(outcomes.map((o) => o.done));

            for (const { result } of outcomes) {
              const files = await maildirState(daemon, result.user);
              const all = originals[result.user]!;
              assertIntact(files, all);
              all.forEach((m, i) => {
                const marked = result.numbers.includes(i + 1);
                // Deleted only by a session that had sent QUIT after DELE; all of them once QUIT said +OK.
                if (!marked || !result.quitSent) assert.ok(files.has(m.name), `${result.user}: ${m.name} lost`);
                if (marked && result.quitOk) assert.ok(!files.has(m.name), `${result.user}: ${m.name} not deleted`);
              });
            }
            const again = await start({ config, users, dir: daemon.dir });
            const session = await login({ host: '127.0.0.1', port }, 'u0', 'pw0');
            assert.match((await session.command('STAT')) ?? '', /^\+OK \d+ \d+$/);
            session.close();
            await again.stop();
            await removeDir(daemon.dir);
          },
        ),
        { numRuns: 4 },
      );
    },
  );
});

describe('kill -9 during applies and during the persisted-config write', () => {
  it(
    'after a kill at a random moment of a stream of applies, the config is the old or the new one, and it serves',
    { timeout: 60_000 },
    async () => {
      const [portA, portB] = [await freePort(), await freePort('127.0.0.2')];
      const configs = [
        { binds: `127.0.0.1 ${portA}`, deny: ['10.0.0.0/8'], limits: { maxBadCommands: 5 } },
        { binds: `127.0.0.2 ${portB}`, permit: ['127.0.0.0/8'], limits: { maxLineLength: 512 } },
      ];
      const canonical = configs.map((c) => {
        const parsed = parseConfig(c);
        assert.ok(parsed.ok);
        return parsed.config;
      });
      let dir: string | undefined;
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 40 }), async (killAfterMs) => {
          const daemon = await start({ config: configs[0], ...(dir ? { dir } : {}) });
          dir = daemon.dir;
          let stop = false;
          const applies = (async () => {
            for (let i = 0; !stop; i++) {
              await daemon.admin('PUT', '/v1/config', configs[i % 2]).catch(() => (stop = true));
            }
          })();
          await new Promise((resolve) => setTimeout(resolve, killAfterMs));
          await daemon.stop('SIGKILL');
          stop = true;
          await applies;

          // The file on disk is whole, and one of the two.
          const persisted = JSON.parse(await readFile(join(daemon.stateDir, 'config.json'), 'utf8')) as {
            config: unknown;
          };
          const which = canonical.findIndex((c) => JSON.stringify(c) === JSON.stringify(persisted.config));
          assert.ok(which !== -1, `persisted config is neither: ${JSON.stringify(persisted.config)}`);

          // It starts again with that one and serves on its listener; no temp file is left behind.
          const again = await start({ config: configs[0], dir: daemon.dir });
          assert.deepEqual(
            (await readdir(daemon.stateDir)).filter((name) => name.endsWith('.tmp')),
            [],
            'temp files of interrupted saves are removed at start',
          );
          const running = (await again.admin('GET', '/v1/config')).body;
          assert.deepEqual(running, canonical[which]);
          const host = which === 0 ? '127.0.0.1' : '127.0.0.2';
          const wire = await Pop3Client.open({ host, port: which === 0 ? portA : portB });
          assert.match((await wire.line()) ?? '', /^\+OK/);
          wire.close();
          await again.stop();
        }),
        { numRuns: 5 },
      );
    },
  );

  it(
    'a process killed while it saves the config in a loop leaves the old file or the new one, never a torn one',
    { timeout: 60_000 },
    async () => {
      const { execa } = await import('execa');
      const store = join(RUNTIME_ROOT, 'dist', 'src', 'admin', 'config-store.js');
      const parsed = [
        parseConfig({ binds: '127.0.0.1 1100' }),
        parseConfig({ binds: '127.0.0.1 1101', deny: ['10.*'] }),
      ];
      const records = parsed.map((p, i) => {
        assert.ok(p.ok);
        // Big enough that a write takes more than one system call's worth of time.
        return { generation: i + 1, appliedAt: 'x', config: p.config };
      });
      const dir = await mkdtemp(join(tmpdir(), 'pop3d-store-'));
      const script = `
      const { ConfigStore } = require(${JSON.stringify(store)});
      const records = JSON.parse(process.argv[1]).map((r) => ({ ...r, appliedAt: r.appliedAt.repeat(200000) }));
      const store = new ConfigStore(process.argv[2]);
      (async () => {
        await store.save(records[0]);
        process.stdout.write('ready\\n');
        for (let i = 1; ; i++) await store.save(records[i % 2]);
      })();`;
      let torn = 0;
      for (let i = 0; i < 12; i++) {
        const child = execa('node', ['-e', script, JSON.stringify(records), join(dir, 'state')], { reject: false });
        const ready = await Promise.race([
          new Promise<boolean>((resolve) => child.stdout!.once('data', () => resolve(true))),
          child.then(() => false),
        ]);
        if (!ready) assert.fail(`the saving process did not start: ${(await child).stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 5 + ((i * 7) % 30)));
        child.kill('SIGKILL');
        await child;
        const text = await readFile(join(dir, 'state', 'config.json'), 'utf8');
        let record: { generation: number } | undefined;
        try {
          record = JSON.parse(text) as { generation: number };
        } catch {
          torn++;
        }
        if (record) {
          assert.ok(record.generation === 1 || record.generation === 2);
          const expected = records[record.generation - 1]!;
          assert.deepEqual(record, { ...expected, appliedAt: expected.appliedAt.repeat(200_000) });
        }
      }
      assert.equal(torn, 0);
      // Regression: the temp files of interrupted saves (copies of the config, key included) piled up.
      // Loading at start-up removes them.
      await new ConfigStore(join(dir, 'state')).load();
      assert.deepEqual(await readdir(join(dir, 'state')), ['config.json']);
      await removeDir(dir);
    },
  );
});
