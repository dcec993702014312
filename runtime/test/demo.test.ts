// `npm start` runs `pop3d --demo`: it must work on a fresh machine without
// root or edited files, and the commands it prints must work as printed.
import { strict as assert } from 'node:assert';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ResultPromise } from 'execa' with { 'resolution-mode': 'import' };
import { freePort, POP3D_BIN } from '@pop3-iac/test-kit';

describe('pop3d --demo', () => {
  let child: ResultPromise;
  let printed = '';
  let env: Record<string, string>;

  before(async () => {
    const { execa } = await import('execa');
    const state = await mkdtemp(join(tmpdir(), 'pop3d-demo-'));
    env = {
      XDG_STATE_HOME: state,
      POP3D_DEMO_PORT: String(await freePort()),
      POP3D_DEMO_SSL_PORT: String(await freePort()),
    };
    child = execa('node', [POP3D_BIN, '--demo'], { env, reject: false, buffer: false });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo did not start:\n${printed}`)), 15_000);
      child.stderr?.on('data', (chunk: Buffer) => {
        printed += chunk.toString();
        if (printed.includes('Stop with Ctrl-C')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  });
  after(async () => {
    child.kill('SIGTERM');
    await child;
  });

  const commandFor = (label: string) => {
    const line = printed.split('\n').find((l) => l.trimStart().startsWith(`${label}:`));
    assert.ok(line, `no "${label}:" line in:\n${printed}`);
    return line
      .slice(line.indexOf(':') + 1)
      .trim()
      .split(/\s+/);
  };

  for (const label of ['list', 'retrieve', 'STLS', 'POP3S', 'admin API']) {
    it(`the printed "${label}" command works as printed`, async () => {
      const { execa } = await import('execa');
      const [command, ...args] = commandFor(label);
      const result = await execa(command!, args, { reject: false, env });
      assert.equal(result.exitCode, 0, result.stderr);
      assert.ok(result.stdout.length > 0);
    });
  }

  it('the printed openssl s_client line logs in and lists the demo mailbox', async () => {
    const { execa } = await import('execa');
    const words = commandFor('by hand');
    const [command, ...args] = words.slice(0, words.indexOf('(then:'));
    const result = await execa(command!, args, { input: 'USER demo\r\nPASS demo\r\nLIST\r\nQUIT\r\n', reject: false });
    assert.match(result.stdout, /^\+OK 3 messages/m);
  });
});
