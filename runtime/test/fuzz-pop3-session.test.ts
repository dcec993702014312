// Fuzzing the POP3 command parser and session state machine against the real
// pop3d (runtime/README.md, Guarantees: "Bad input is survived"): random
// command sequences and raw bytes (NUL, CR, 8-bit, overlong lines) split at
// random points. Every reply must be RFC grammar, one per line and in order;
// the process never dies; a new connection is still served. `npm run fuzz` runs
// the same property 10^5 times.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { fuzzConfig, fuzzSessions, FUZZ_USERS, newStats, runSessionCase, stillServes } from '../fuzz/session-fuzz';
import { freePort, startReadyDaemon, type Daemon } from '@pop3-iac/test-kit';

describe('fuzz: POP3 sessions against the real pop3d', () => {
  let daemon: Daemon;
  let port: number;

  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({ config: fuzzConfig(port), users: FUZZ_USERS });
  });
  after(() => daemon.stop());

  const alive = () => assert.equal(daemon.process.exitCode, null, `pop3d exited:\n${daemon.output().slice(-2000)}`);

  it('the model itself: a plain session passes, and a desynchronised one is caught', async () => {
    await runSessionCase(port, daemon.maildirRoot, {
      user: 0,
      login: 'user-pass',
      lines: ['STAT', 'LIST', 'RETR 1', 'RETR 3', 'TOP 2 0', 'UIDL', 'CAPA', 'DELE 4', 'QUIT'].map((l) => ({
        content: Buffer.from(l),
        ending: '\r\n' as const,
      })),
      cuts: [3, 17],
    });
    // A checker that accepted anything would be worthless: an LF inside what the model takes for
    // one line makes pop3d see two commands (NOOP, RETR 1), so one reply too many comes back.
    await assert.rejects(
      runSessionCase(port, daemon.maildirRoot, {
        user: 1,
        login: 'user-pass',
        lines: [
          { content: Buffer.from('NOOP\r\nRETR 1'), ending: '\r\n' },
          { content: Buffer.from('NOOP'), ending: '\r\n' },
        ],
        cuts: [],
      }),
      /more was sent than one reply per line/,
    );
  });

  it('random command streams: RFC grammar, one reply per line, the daemon survives and still serves', async (t) => {
    const stats = newStats();
    await fuzzSessions(port, daemon.maildirRoot, { numRuns: 400, alive, stats });
    t.diagnostic(JSON.stringify(stats));
    // Every state is reached: logged in, messages retrieved, sessions ended by QUIT and by too many bad commands.
    assert.ok(
      stats.logins > 20 && (stats.multiLine.retr ?? 0) > 0 && (stats.multiLine.top ?? 0) > 0,
      JSON.stringify(stats),
    );
    assert.ok(
      Object.keys(stats.closedBy).some((k) => k.startsWith('-ERR Too many')),
      JSON.stringify(stats.closedBy),
    );
    assert.ok(
      Object.keys(stats.closedBy).some((k) => k.startsWith('+OK Logging out')),
      JSON.stringify(stats.closedBy),
    );
    alive();
    await stillServes(port);
    const errors = daemon.logEvents().filter((e) => e.level === 'error');
    assert.deepEqual(errors, [], 'no internal error was logged');
  });
});
