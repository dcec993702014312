// examples/fleet end to end, as its README runs it: three hosts made of network
// namespaces on a test bridge (198.18.N.0/24), a real pop3d in each, two
// reached over mutual TLS on --admin-listen and one through a real OpenSSH sshd
// in its namespace, one stack driven by the real pulumi CLI. One setup; each
// test() is a step that starts from where the previous one left the fleet.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { curlAdmin, POP3_PORT, startFleet, type Fleet, type FleetHost, type HostEntry } from './fleet-hosts';
import { PulumiWorld, REPO_ROOT, firstLine, login, removeDir, type PulumiProject, type RunResult } from './support';

const TYPE = 'pulumi-nodejs:dynamic/pop3:Pop3Service';
const PREVIEW = ['preview', '--non-interactive'];
const UP = ['up', '--yes', '--non-interactive', '--skip-preview'];
/**
 * As the README runs it with a host down: that host's update fails on its own
 * (its preview would fail the whole run, so none), and the engine goes on with
 * the others instead of stopping at the first failed step.
 */
const UP_PAST_ERRORS = [...UP, '--continue-on-error'];
const DRIFT_CHECK = ['refresh', '--preview-only', '--expect-no-changes', '--non-interactive'];

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The engine's error block for one resource: `Pop3Service (mail1):` then its `error:` line. */
function failureOf(result: RunResult, name: string): string | undefined {
  const match = new RegExp(`${escape(TYPE)} \\(${name}\\):\\n\\s+error: ([^\\n]+)`).exec(result.output);
  return match?.[1];
}

/** alice logs in at the host's bind from the test machine's gateway address and finds her one message. */
async function loginOn(host: FleetHost): Promise<void> {
  const session = await login({ host: host.address, port: POP3_PORT }, 'alice', 'secret');
  try {
    assert.match((await session.command('STAT')) ?? '', /^\+OK 1 /, `${host.name}: STAT`);
  } finally {
    session.close();
  }
}

describe('pulumi CLI: examples/fleet on three hosts (network namespaces), two over mutual TLS, one over SSH', () => {
  let fleet: Fleet;
  let world: PulumiWorld;
  let project: PulumiProject;
  let work: string;
  let hosts: FleetHost[];
  const setHosts = (entries: HostEntry[]) => project.setConfig({ hosts: JSON.stringify(entries, null, 2) });
  /** The fleet-wide deny list, as the README sets it. */
  const setDeny = (patterns: string[]) => project.setConfig({ deny: JSON.stringify(patterns) });
  /** What a host's daemon has applied, read through its own admin socket (the test machine's view). */
  const liveDeny = async (host: FleetHost) =>
    ((await host.daemon.admin('GET', '/v1/config')).body as { deny: string[] }).deny;

  /** examples/fleet/drift-check.sh as a monitor runs it: the reader identity, and not the stack's passphrase. */
  const readOnlyDriftCheck = async (): Promise<RunResult> => {
    const { execa } = await import('execa');
    const { PULUMI_CONFIG_PASSPHRASE: _passphrase, ...env } = { ...process.env, ...world.env };
    const { reader, ca } = fleet.pki;
    const result = await execa('./drift-check.sh', [ca.cert, reader.cert, reader.key], {
      cwd: project.dir,
      env,
      extendEnv: false,
      reject: false,
      all: true,
    });
    return { exitCode: result.exitCode ?? -1, output: result.all ?? '', stdout: result.stdout };
  };

  before(async () => {
    [fleet, world, work] = await Promise.all([
      startFleet({ transports: ['tls', 'tls', 'ssh'] }),
      PulumiWorld.create(),
      mkdtemp(join(tmpdir(), 'pop3-fleet-')),
    ]);
    hosts = fleet.hosts;
    // The README's steps: the program copied as is, a stack, the shared certificates and keys, the list.
    project = await world.project('fleet', {}, join(REPO_ROOT, 'examples', 'fleet'));
    await project.ok(['stack', 'init', 'fleet']);
    await project.setConfig(
      { caPem: fleet.pki.ca.certPem, certPem: fleet.pki.deployer.certPem, allowPlaintextAuth: 'true' },
      { keyPem: fleet.pki.deployer.keyPem, sshPrivateKey: hosts[2]!.sshd!.userKey },
    );
    await setHosts(fleet.entries());
  });

  after(async () => {
    if (process.env.POP3_E2E_TRANSCRIPT && world)
      await writeFile(process.env.POP3_E2E_TRANSCRIPT, world.transcript.join('\n'));
    if (fleet) await fleet.destroy();
    if (world) await removeDir(world.root);
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the hosts are namespaces on the test bridge, routed through it', () => {
    for (const host of hosts) assert.match(host.address, /^198\.18\.\d+\.1[123]$/);
    assert.match(fleet.network.gateway, /^198\.18\.\d+\.1$/);
  });

  test('preview shows three creates and applies nothing', async () => {
    const preview = await project.ok(PREVIEW);
    for (const host of hosts)
      assert.match(preview.output, new RegExp(`\\+\\s+${TYPE}\\s+${host.name}\\s+create`), preview.output);
    assert.match(preview.output, /\+ 4 to create/, preview.output);
    for (const host of hosts) assert.equal(await firstLine(host.address, POP3_PORT), 'refused');
  });

  test('up: every host serves its bind (a POP3 login on each host address)', async () => {
    await project.ok(UP);
    for (const host of hosts) {
      const status = (await host.daemon.admin('GET', '/v1/status')).body as {
        listeners: Array<{ address: string; port: number }>;
      };
      assert.deepEqual(
        status.listeners.map((l) => `${l.address} ${l.port}`),
        [`${host.address} ${POP3_PORT}`],
      );
      await loginOn(host);
    }
    assert.match(hosts[2]!.sshd!.output(), /Accepted publickey/);
  });

  test('a fleet-wide deny applies on every host', async () => {
    await setDeny([fleet.otherClient]);
    await project.ok(UP);
    for (const host of hosts) {
      assert.deepEqual(await liveDeny(host), [fleet.otherClient]);
      assert.equal(await firstLine(host.address, POP3_PORT, fleet.otherClient), 'closed', host.name);
      await loginOn(host);
    }
  });

  test('drift made by curl over mutual TLS on mail2: the drift check fails naming mail2 only; up --refresh repairs it', async () => {
    const mail2 = hosts[1]!;
    const got = await curlAdmin(fleet, mail2, 'GET', '/v1/config');
    assert.equal(got.status, 200, got.body);
    const put = await curlAdmin(fleet, mail2, 'PUT', '/v1/config', { ...JSON.parse(got.body), deny: [] });
    assert.equal(put.status, 200, put.body);
    assert.match(await firstLine(mail2.address, POP3_PORT, fleet.otherClient), /^\+OK/);

    const check = await project.run(DRIFT_CHECK);
    assert.notEqual(check.exitCode, 0, check.output);
    assert.match(check.output, new RegExp(`~\\s+${TYPE}\\s+mail2\\s+update`), check.output);
    for (const other of ['mail1', 'mail3'])
      assert.doesNotMatch(check.output, new RegExp(`${TYPE}\\s+${other}\\s+update`), check.output);
    assert.match(check.output, /~ 1 to update/, check.output);

    await project.ok([...UP, '--refresh']);
    assert.deepEqual(await liveDeny(mail2), [fleet.otherClient]);
    assert.equal(await firstLine(mail2.address, POP3_PORT, fleet.otherClient), 'closed');
    assert.equal((await project.run(DRIFT_CHECK)).exitCode, 0, 'no drift is left');
  });

  test('the read-only drift check (drift-check.sh, a reader certificate, no passphrase) names the host that drifted', async () => {
    const mail1 = hosts[0]!;
    const clean = await readOnlyDriftCheck();
    assert.equal(clean.exitCode, 0, clean.output);
    assert.match(clean.output, /^mail1: as applied/m, clean.output);
    assert.match(clean.output, /^mail2: as applied/m, clean.output);
    assert.doesNotMatch(clean.output, /mail3/, 'an SSH host is left to pulumi refresh');

    // The reader certificate itself may not apply: the drift is made with the deployer's, by hand.
    const denied = await curlAdmin(fleet, mail1, 'PUT', '/v1/config', { binds: [] }, fleet.pki.reader);
    assert.equal(denied.status, 403, denied.body);
    const running = JSON.parse((await curlAdmin(fleet, mail1, 'GET', '/v1/config')).body) as { deny: string[] };
    const put = await curlAdmin(fleet, mail1, 'PUT', '/v1/config', {
      ...running,
      deny: [...running.deny, '203.0.113.7'],
    });
    assert.equal(put.status, 200, put.body);
    const drifted = await readOnlyDriftCheck();
    assert.equal(drifted.exitCode, 1, drifted.output);
    assert.match(
      drifted.output,
      /^mail1: drifted: https:\/\/\S+ runs ETag "\w+", Pulumi applied "\w+"/m,
      drifted.output,
    );
    assert.match(drifted.output, /^mail2: as applied/m, drifted.output);

    await project.ok(UP);
    assert.deepEqual(await liveDeny(mail1), running.deny);
    assert.equal((await readOnlyDriftCheck()).exitCode, 0, 'repaired');
  });

  test("mail1's pop3d stopped: preview fails naming it; up fails mail1 alone while the others take the change; it converges once mail1 is back", async () => {
    const [mail1, mail2, mail3] = hosts as [FleetHost, FleetHost, FleetHost];
    await fleet.stopDaemon(mail1);
    try {
      await setDeny([fleet.otherClient, '192.0.2.0/24']);
      // A preview (and the one `pulumi up` runs first) fails naming it, and changes nothing anywhere.
      const preview = await project.run(PREVIEW);
      assert.notEqual(preview.exitCode, 0, preview.output);
      assert.match(preview.output, new RegExp(`cannot reach pop3d at ${escape(mail1.url!)}`), preview.output);
      assert.deepEqual(await liveDeny(mail2), [fleet.otherClient]);
      const up = await project.run(UP_PAST_ERRORS);
      assert.notEqual(up.exitCode, 0, up.output);
      assert.match(failureOf(up, 'mail1') ?? '', new RegExp(`cannot reach pop3d at ${escape(mail1.url!)}`), up.output);
      assert.equal(failureOf(up, 'mail2'), undefined, up.output);
      assert.equal(failureOf(up, 'mail3'), undefined, up.output);
      // The others take the change meanwhile.
      for (const other of [mail2, mail3])
        assert.deepEqual(await liveDeny(other), ['192.0.2.0/24', fleet.otherClient], `${other.name} took the change`);
      assert.match(up.output, /2 updated/, up.output);
    } finally {
      await fleet.startDaemon(mail1);
    }
    assert.deepEqual(await liveDeny(mail1), [fleet.otherClient], 'mail1 restarts on what it had');
    await project.ok(UP);
    assert.deepEqual(await liveDeny(mail1), ['192.0.2.0/24', fleet.otherClient]);
    await loginOn(mail1);
  });

  test("sshd stopped: the SSH host's update fails naming it while the others take the change", async () => {
    const [mail1, mail2, mail3] = hosts as [FleetHost, FleetHost, FleetHost];
    await mail3.sshd!.stop();
    try {
      await setDeny([fleet.otherClient]);
      const up = await project.run(UP_PAST_ERRORS);
      assert.notEqual(up.exitCode, 0, up.output);
      const failure = failureOf(up, 'mail3') ?? '';
      assert.match(failure, new RegExp(`cannot reach pop3d at ssh://[^@]+@${escape(mail3.address)}:`), up.output);
      assert.match(failure, /is sshd running/, up.output);
      assert.equal(failureOf(up, 'mail1'), undefined, up.output);
      assert.equal(failureOf(up, 'mail2'), undefined, up.output);
      assert.deepEqual(await liveDeny(mail3), ['192.0.2.0/24', fleet.otherClient], 'mail3 is unchanged');
      for (const other of [mail1, mail2])
        assert.deepEqual(await liveDeny(other), [fleet.otherClient], `${other.name} took the change`);
    } finally {
      await mail3.sshd!.restart();
    }
    await project.ok(UP);
    assert.deepEqual(await liveDeny(mail3), [fleet.otherClient]);
  });

  test('a wrong host key for mail3 is refused, with a message saying so; nothing is applied', async () => {
    const other = join(work, 'other_host_key');
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const wrongKey = (await readFile(`${other}.pub`, 'utf8')).trim();
    const entries = fleet.entries();
    entries[2]!.ssh!.hostKey = wrongKey;
    await setHosts(entries);
    await setDeny([]);
    const accepted = () => hosts[2]!.sshd!.output().split('Accepted publickey').length;
    const before = accepted();
    try {
      const up = await project.run(UP_PAST_ERRORS);
      assert.notEqual(up.exitCode, 0, up.output);
      assert.match(failureOf(up, 'mail3') ?? '', /SSH host key of .* does not match the one given/, up.output);
      assert.equal(accepted(), before, 'the client never logged in');
      assert.deepEqual(await liveDeny(hosts[2]!), [fleet.otherClient]);
    } finally {
      await setHosts(fleet.entries());
      await setDeny([fleet.otherClient]);
    }
    await project.ok(UP);
    assert.deepEqual(await liveDeny(hosts[0]!), [fleet.otherClient]);
  });

  test('pulumi stack export holds no private key, and no command printed one', async () => {
    const exported = (await project.ok(['stack', 'export'])).stdout;
    for (const host of hosts) assert.match(exported, new RegExp(`Pop3Service::${host.name}"`));
    for (const [what, key] of [
      ['the deployer key', fleet.pki.deployer.keyPem],
      ['the SSH private key', hosts[2]!.sshd!.userKey],
    ] as const) {
      const body = key.split('\n')[1]!;
      assert.ok(!exported.includes(body), `${what} is in the state`);
      assert.ok(!world.transcript.join('\n').includes(body), `${what} was printed`);
    }
    assert.doesNotMatch(exported, /PRIVATE KEY/);
  });

  test('destroy leaves no POP3 listener on any host, and every daemon answering its admin API', async () => {
    await project.ok(['destroy', '--yes', '--non-interactive', '--skip-preview']);
    for (const host of hosts) {
      assert.equal(await firstLine(host.address, POP3_PORT), 'refused', host.name);
      const status = await host.daemon.admin('GET', '/v1/status');
      assert.equal(status.status, 200);
      assert.deepEqual((status.body as { listeners: unknown[] }).listeners, []);
    }
    for (const host of hosts.filter((h) => h.url !== undefined)) {
      const answer = await curlAdmin(fleet, host, 'GET', '/v1/status');
      assert.equal(answer.status, 200, answer.body);
    }
  });
});
