// Access control that cannot be bypassed (runtime/README.md, Guarantees): a
// deny holds against IPv4-mapped IPv6, against every other IPv6 spelling of the
// same address, against zone ids, and against a PROXY protocol header on a
// listener not marked `proxy` (there such a line is an unknown command from the
// real peer; proxy listeners are in proxy-haproxy.test.ts).
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { compileAccessRules, parseConfig } from '@pop3-iac/schema';
import { freePort, startReadyDaemon, type Daemon, greeting, Pop3Client } from '@pop3-iac/test-kit';

/** The rules as the daemon compiles them: through the schema's canonical form. */
function matcher(permit: string[], deny: string[]) {
  const parsed = parseConfig({ permit, deny });
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return compileAccessRules(parsed.config.permit, parsed.config.deny);
}

/** Ways to write one IPv4 address as a peer or a pattern. */
function v4Spellings(address: string): string[] {
  const [a, b, c, d] = address.split('.').map(Number) as [number, number, number, number];
  const hi = ((a << 8) | b).toString(16);
  const lo = ((c << 8) | d).toString(16);
  return [
    address,
    `::ffff:${address}`,
    `::FFFF:${address}`,
    `0:0:0:0:0:ffff:${address}`,
    `0000:0000:0000:0000:0000:FFFF:${address}`,
    `::ffff:${hi}:${lo}`,
    `::ffff:${hi.padStart(4, '0')}:${lo.padStart(4, '0')}`,
  ];
}

/** Ways to write one IPv6 address (given as its eight groups): full, without leading zeros, compressed, upper case. */
function v6Spellings(groups: readonly number[]): string[] {
  const full = groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
  const normal = groups.map((g) => g.toString(16)).join(':');
  // WHATWG URL serialisation of an IPv6 host is the RFC 5952 compressed form.
  const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);
  return [full, normal, compressed, full.toUpperCase(), compressed.toUpperCase()];
}

/** Eight groups, zeros likely (so that :: compression is exercised). */
const v6GroupsArb = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
  minLength: 8,
  maxLength: 8,
});

const ZONES = ['%eth0', '%1', '%lo', '%25'];

describe('a deny cannot be escaped by spelling the address differently', () => {
  it('IPv4: every IPv4-mapped IPv6 spelling of a denied address is denied, whichever spelling the rule uses', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV4(), (denied, other) => {
        for (const rule of [denied, `::ffff:${denied}`, `${denied}/32`]) {
          const rules = matcher([], [rule]);
          for (const peer of v4Spellings(denied)) assert.equal(rules.check(peer).admitted, false, `${rule} vs ${peer}`);
          if (other !== denied) assert.equal(rules.check(other).admitted, true, `${rule} must not deny ${other}`);
        }
        // The same through permit: a permitted address is permitted however it is spelt, others are not.
        const permitted = matcher([denied], []);
        for (const peer of v4Spellings(denied)) assert.equal(permitted.check(peer).admitted, true, peer);
        if (other !== denied)
          for (const peer of v4Spellings(other)) assert.equal(permitted.check(peer).admitted, false);
      }),
      { numRuns: 300 },
    );
  });

  it('IPv6: every spelling and every zone id of a denied address (or of one in a denied prefix) is denied', () => {
    fc.assert(
      fc.property(v6GroupsArb, fc.integer({ min: 1, max: 128 }), (groups, prefix) => {
        if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return; // IPv4-mapped: above
        const spellings = v6Spellings(groups);
        for (const rule of [spellings[0]!, spellings[2]!, `${spellings[1]}/${prefix}`]) {
          const rules = matcher([], [rule]);
          for (const peer of spellings)
            for (const zone of ['', ...ZONES])
              assert.equal(rules.check(peer + zone).admitted, false, `${rule} vs ${peer}${zone}`);
        }
        // And a different address is not caught by the single-address rule.
        const other = [...groups];
        other[7] = (other[7]! + 1) % 0x10000;
        assert.equal(matcher([], [spellings[0]!]).check(v6Spellings(other)[2]!).admitted, true);
      }),
      { numRuns: 300 },
    );
  });

  it('text that is not an address is refused when any rule is set, never admitted by accident', () => {
    const rules = matcher([], ['192.0.2.1']);
    for (const peer of ['', 'localhost', '127.1', '0x7f.0.0.1', '::ffff:127.1', '1.2.3.4.5', '%eth0'])
      assert.equal(rules.check(peer).admitted, false, peer);
  });
});

describe('denies through the real pop3d, spelled as IPv4-mapped and expanded IPv6', () => {
  let daemon: Daemon;
  let v4Port: number;
  let anyPort: number;
  let v6Port: number;

  before(async () => {
    [v4Port, anyPort, v6Port] = [await freePort(), await freePort(), await freePort('::1')];
    daemon = await startReadyDaemon({
      config: {
        binds: `127.0.0.1 ${v4Port}, * ${anyPort}, [::1] ${v6Port}`,
        deny: ['::ffff:127.0.0.5', '0:0:0:0:0:0:0:1'],
      },
    });
  });
  after(() => daemon.stop());

  it('the rules are stored canonical: ::ffff:127.0.0.5 is 127.0.0.5, 0:0:0:0:0:0:0:1 is ::1', async () => {
    const config = (await daemon.admin('GET', '/v1/config')).body as { deny: string[] };
    assert.deepEqual(config.deny, ['127.0.0.5', '::1']);
  });

  it('127.0.0.5 is refused on the IPv4 listener and on the dual-stack one (where it arrives as ::ffff:127.0.0.5)', async () => {
    assert.equal(await greeting({ host: '127.0.0.1', port: v4Port, localAddress: '127.0.0.5' }), undefined);
    assert.equal(await greeting({ host: '127.0.0.1', port: anyPort, localAddress: '127.0.0.5' }), undefined);
    assert.match((await greeting({ host: '127.0.0.1', port: anyPort, localAddress: '127.0.0.6' })) ?? '', /^\+OK/);
  });

  it('::1 is refused on the IPv6 listener and on the dual-stack one', async () => {
    assert.equal(await greeting({ host: '::1', port: v6Port }), undefined);
    assert.equal(await greeting({ host: '::1', port: anyPort }), undefined);
    const status = (await daemon.admin('GET', '/v1/status')).body as {
      counters: { refusedByRule: Record<string, number> };
    };
    assert.equal(status.counters.refusedByRule['::1'], 2);
    assert.equal(status.counters.refusedByRule['127.0.0.5'], 2);
  });
});

describe('on a listener without `proxy`, a PROXY header changes nothing', () => {
  let daemon: Daemon;
  let port: number;

  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({
      config: { binds: `127.0.0.1 ${port}`, permit: ['127.0.0.0/29'], deny: ['127.0.0.5'] },
    });
  });
  after(() => daemon.stop());

  const proxyLine = (claimed: string) => `PROXY TCP4 ${claimed} 127.0.0.1 40000 ${port}\r\n`;

  it('from a denied address, a PROXY header claiming a permitted one: closed before any greeting', async () => {
    for (const localAddress of ['127.0.0.5', '127.0.0.9']) {
      const wire = await Pop3Client.open({ host: '127.0.0.1', port, localAddress });
      wire.socket.write(proxyLine('127.0.0.4'));
      assert.equal(await wire.line(), undefined, `${localAddress} got no greeting and no reply`);
      wire.close();
    }
  });

  it('from an admitted address, a PROXY header claiming a denied one is an unknown command; the peer stays the real one', async () => {
    const wire = await Pop3Client.open({ host: '127.0.0.1', port, localAddress: '127.0.0.4' });
    assert.match((await wire.line()) ?? '', /^\+OK/);
    assert.equal(await wire.command(proxyLine('127.0.0.5').trimEnd()), '-ERR Unknown command');
    // The PROXY v2 signature (binary) is no better than text: its lines are bad commands.
    wire.socket.write(Buffer.from('0d0a0d0a000d0a', 'hex'));
    assert.equal(await wire.line(), '-ERR Unknown command');
    assert.equal(await wire.line(), '-ERR Unknown command');
    assert.equal(await wire.line(), '-ERR Invalid characters in command');
    // Still the loopback client it really is: plaintext login allowed, logged under its own address.
    assert.match((await wire.command('USER alice')) ?? '', /^\+OK/);
    assert.match((await wire.command('PASS secret')) ?? '', /^\+OK Logged in/);
    assert.match((await wire.command('QUIT')) ?? '', /^\+OK/);
    wire.close();
    const loginEvent = await daemon.waitForEvent('login.succeeded');
    assert.equal(loginEvent.peer, '127.0.0.4');
    assert.ok(
      daemon.logEvents().every((e) => e.peer !== '127.0.0.5'),
      'no session ever ran as 127.0.0.5',
    );
    const status = (await daemon.admin('GET', '/v1/status')).body as {
      counters: { refusedByRule: Record<string, number> };
    };
    assert.equal(status.counters.refusedByRule['127.0.0.5'], 1, 'only the real 127.0.0.5 connection was refused');
    assert.equal(status.counters.refusedByRule.permit, 1, 'and the real 127.0.0.9 one');
  });
});
