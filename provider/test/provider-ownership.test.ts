// One owner per daemon (provider/README.md "Ownership"), at the provider's
// methods, against real pop3d processes: who may create, update and delete,
// what each refusal says, and, after each step, that a POP3 client is still
// served where it should be.
import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as pulumi from '@pulumi/pulumi';
import { pop3ServiceProvider } from '../src';
import {
  POP3CTL_BIN,
  firstLine,
  freePort,
  rejectsWith,
  removeDir,
  serves,
  startReadyDaemon,
  type Daemon,
} from './support';

type Props = Record<string, unknown>;

const provider = pop3ServiceProvider as Required<pulumi.dynamic.ResourceProvider>;

const PROGRAM = { project: 'mail', stack: 'prod' };

/** The owner the daemon records, as GET /v1/status shows it. */
async function ownerOf(daemon: Daemon): Promise<Props | null> {
  return ((await daemon.admin('GET', '/v1/status')).body as { owner: Props | null }).owner;
}

describe('one owner per daemon', () => {
  let daemon: Daemon;
  let other: Daemon;
  let port: number;
  let otherPort: number;

  before(async () => {
    [port, otherPort] = await Promise.all([freePort(), freePort()]);
    const mail = { alice: [{ content: 'Subject: hi\r\n\r\nhello\r\n' }] };
    [daemon, other] = await Promise.all([
      // Set up by hand: access narrowed to one address, nobody owns it.
      startReadyDaemon({ config: { binds: `127.0.0.1 ${port}`, permit: ['127.0.0.1'] }, mail }),
      startReadyDaemon({ config: { binds: [] }, mail }),
    ]);
  });
  after(async () => {
    await Promise.all([daemon.stop(), other.stop()]);
    await Promise.all([removeDir(daemon.dir), removeDir(other.dir)]);
  });

  /** The inputs of resource `name` as the class and check make them. */
  const inputs = async (name: string, extra: Props = {}): Promise<Props> => {
    const news = {
      owner: { ...PROGRAM, resource: name },
      adminSocket: daemon.socket,
      binds: `127.0.0.1 ${port}`,
      ...extra,
    };
    const result = await provider.check({}, news);
    assert.deepEqual(result.failures ?? [], []);
    return result.inputs as Props;
  };
  const checkFailures = async (
    name: string,
    extra: Props = {},
  ): Promise<Array<{ property: string; reason: string }>> => {
    const news = {
      owner: { ...PROGRAM, resource: name },
      adminSocket: daemon.socket,
      binds: `127.0.0.1 ${port}`,
      ...extra,
    };
    return [...((await provider.check({}, news)).failures ?? [])];
  };

  let pop3: { inputs: Props; state: Props };

  it('adoption: with adopt false, a daemon serving a configuration nobody owns is refused, naming each field', async () => {
    const failures = await checkFailures('pop3', { adopt: false });
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.property, '');
    assert.match(
      failures[0]!.reason,
      /serves a configuration nobody owns, and adopt is false: nothing was changed.*\n {2}permit: \["127\.0\.0\.1"\] \(running\) -> \[\] \(program\)/s,
    );
    await rejectsWith(provider.create({ ...(await inputs('pop3')), adopt: false }), 'adoption_refused', /permit/);
    assert.equal(await ownerOf(daemon), null);
    await serves(port);
  });

  it('adoption: unset, create adopts it and the daemon records the owner', async () => {
    const created = await provider.create(await inputs('pop3'));
    pop3 = { inputs: await inputs('pop3'), state: created.outs as Props };
    pop3.inputs = { ...pop3.inputs, owner: (created.outs as { owner: Props }).owner };
    const owner = await ownerOf(daemon);
    assert.deepEqual(owner, (created.outs as Props).owner);
    assert.equal((owner as Props).resource, 'pop3');
    assert.match(await firstLine('127.0.0.1', port, '127.0.0.2'), /^\+OK/, 'the program permits everyone');
    await serves(port);
  });

  it('another resource (a rename without alias, a second stack) is refused naming the owner and the remedies', async () => {
    const renamed = await checkFailures('mail');
    assert.equal(renamed.length, 1);
    assert.match(renamed[0]!.reason, /is owned by mail\/prod\/pop3 \(project mail, stack prod, resource pop3\)/);
    assert.match(renamed[0]!.reason, /aliases: \[\{ name: 'pop3' \}\]/);
    assert.match(renamed[0]!.reason, /pulumi import/);
    assert.match(renamed[0]!.reason, /adopt: true/);
    // The same rename with aliases: [{ name: 'pop3' }], as the class passes it.
    const aliasedOwner = { ...PROGRAM, resource: 'mail', aliases: [{ ...PROGRAM, resource: 'pop3' }] };
    const aliased = await provider.check(
      {},
      { owner: aliasedOwner, adminSocket: daemon.socket, binds: `127.0.0.1 ${port}` },
    );
    assert.deepEqual(aliased.failures ?? [], []);
    const news = {
      owner: { project: 'mail', stack: 'staging', resource: 'pop3' },
      adminSocket: daemon.socket,
      binds: [],
    };
    const stack = (await provider.check({ adminSocket: daemon.socket }, news)).inputs as Props;
    await rejectsWith(provider.create(stack), 'owned_elsewhere', /owned by mail\/prod\/pop3 .*stack: 'prod'/);
    assert.equal((await ownerOf(daemon))?.resource, 'pop3');
    await serves(port);
  });

  it('two creates on one daemon at once: one applies, the other fails naming it', async () => {
    // Nobody owns it (as after pop3ctl apply --take-over): both creates pass the verdict, the daemon's Pop3d-If-Owner decides.
    const cleared = await daemon.admin('PUT', '/v1/config', { binds: `127.0.0.1 ${port}` }, { 'Pop3d-Owner': 'none' });
    assert.equal(cleared.status, 200, cleared.text);
    const [first, second] = await Promise.all([inputs('left'), inputs('right')]);
    const results = await Promise.allSettled([provider.create(first), provider.create(second)]);
    const failed = results.filter((result) => result.status === 'rejected');
    assert.equal(failed.length, 1, JSON.stringify(results.map((r) => r.status)));
    const winner = (await ownerOf(daemon))?.resource;
    assert.ok(winner === 'left' || winner === 'right');
    assert.match(String((failed[0] as PromiseRejectedResult).reason), new RegExp(`is owned by mail/prod/${winner} `));
    // Put pop3 back as the owner for the cases below.
    const back = await provider.create(await inputs('pop3', { adopt: true }));
    pop3 = { inputs: { ...pop3.inputs }, state: back.outs as Props };
    await serves(port);
  });

  it('the two halves of a replace: the new create takes over, the old half delete changes nothing', async () => {
    // The engine checks the new half of a replace as a create (no old inputs).
    const again = await inputs('pop3');
    const created = await provider.create(again);
    const newState = created.outs as Props;
    assert.notEqual((newState.owner as Props).claim, (pop3.state.owner as Props).claim);
    await provider.delete(String(pop3.state.instanceId), pop3.state);
    assert.deepEqual(await ownerOf(daemon), newState.owner);
    await serves(port);
    pop3 = { inputs: again, state: newState };
  });

  it('a hand apply keeps the owner; --take-over leaves it owned by nobody; the next update takes it back', async () => {
    const { execa } = await import('execa');
    const file = join(daemon.dir, 'hand.json');
    await writeFile(file, JSON.stringify({ binds: `127.0.0.1 ${port}`, deny: ['127.0.0.7'] }));
    const hand = await execa('node', [POP3CTL_BIN, '--socket', daemon.socket, 'apply', file], { reject: false });
    assert.equal(hand.exitCode, 0, hand.stderr);
    assert.match(hand.stderr, /stays owned by mail\/prod\/pop3: this is drift/);
    assert.deepEqual(await ownerOf(daemon), pop3.state.owner);
    await writeFile(file, JSON.stringify({ binds: `127.0.0.1 ${port}`, deny: ['127.0.0.8'] }));
    const taken = await execa('node', [POP3CTL_BIN, '--socket', daemon.socket, 'apply', '--take-over', file], {
      reject: false,
    });
    assert.equal(taken.exitCode, 0, taken.stderr);
    assert.equal(await ownerOf(daemon), null);
    const get = await execa('node', [POP3CTL_BIN, '--socket', daemon.socket, 'get'], { reject: false });
    assert.match(get.stdout, /^# Owner: nobody$/m);

    assert.equal((await provider.diff(String(pop3.state.instanceId), pop3.state, pop3.inputs)).changes, true);
    const updated = await provider.update(String(pop3.state.instanceId), pop3.state, pop3.inputs);
    pop3.state = updated.outs as Props;
    assert.deepEqual(await ownerOf(daemon), pop3.state.owner);
    const status = await execa('node', [POP3CTL_BIN, '--socket', daemon.socket, 'status'], { reject: false });
    assert.match(status.stdout, /^owner: mail\/prod\/pop3 \(claim [0-9a-f-]{36}\)$/m);
    await serves(port);
  });

  it('adopt: true takes over from another owner; the old owner update fails naming it, its delete changes nothing', async () => {
    const takeover = await inputs('takeover', { adopt: true });
    const created = await provider.create(takeover);
    assert.equal((await ownerOf(daemon))?.resource, 'takeover');
    await rejectsWith(
      provider.diff(String(pop3.state.instanceId), pop3.state, pop3.inputs),
      'owned_elsewhere',
      /owned by mail\/prod\/takeover.*the update changed nothing/,
    );
    await provider.delete(String(pop3.state.instanceId), pop3.state);
    await serves(port);
    pop3 = { inputs: { ...takeover, owner: (created.outs as Props).owner }, state: created.outs as Props };
  });

  it('a replace onto another daemon on the same ports fails to create there, and the old daemon keeps serving', async () => {
    const moved = { ...pop3.inputs, adminSocket: other.socket };
    const diffed = await provider.diff(String(pop3.state.instanceId), pop3.state, moved);
    assert.deepEqual(diffed.replaces, ['adminSocket']);
    assert.equal(diffed.deleteBeforeReplace, false, 'create the new one before emptying the old');
    await rejectsWith(
      provider.create(moved),
      'apply_failed',
      /EADDRINUSE.*the old daemon was not touched and keeps serving: two daemons on one host cannot hold one port/s,
    );
    await serves(port);
  });

  it('a replace onto another daemon: the new one serves, then the old one is emptied', async () => {
    const moved = { ...pop3.inputs, adminSocket: other.socket, binds: `127.0.0.1 ${otherPort}` };
    const created = await provider.create(moved);
    await serves(otherPort);
    await provider.delete(String(pop3.state.instanceId), pop3.state);
    assert.equal(await firstLine('127.0.0.1', port), 'refused');
    assert.equal(await ownerOf(daemon), null);
    await serves(otherPort);
    pop3 = { inputs: moved, state: created.outs as Props };
  });

  it('state written before owners (ID the socket, no instanceId, no owner) still diffs, updates and deletes', async () => {
    const legacyState: Props = { ...pop3.state, instanceId: undefined, owner: undefined };
    const { owner: _owner, ...legacyInputs } = pop3.inputs;
    // Nobody owns what a provider before owners applied.
    await other.admin('PUT', '/v1/config', { binds: `127.0.0.1 ${otherPort}` }, { 'Pop3d-Owner': 'none' });
    const news = await provider.check(legacyInputs, { ...legacyInputs, owner: { ...PROGRAM, resource: 'pop3' } });
    const newInputs = news.inputs as Props;
    const diffed = await provider.diff(other.socket, legacyState, newInputs);
    assert.deepEqual(diffed.replaces, []);
    const updated = (await provider.update(other.socket, legacyState, newInputs)).outs as Props;
    assert.equal(typeof (updated.owner as Props).claim, 'string', 'the update gives the state its claim');
    assert.deepEqual(await ownerOf(other), updated.owner);
    await serves(otherPort);
    await provider.delete(other.socket, updated);
    assert.equal(await firstLine('127.0.0.1', otherPort), 'refused');
  });

  it('read by instanceId (opts.id) returns what runs; another instanceId at that path is refused', async () => {
    const id = String(pop3.state.instanceId);
    const read = await provider.read(id, { adminSocket: other.socket });
    assert.equal(read.id, id);
    assert.deepEqual((read.props as Props).binds, []);
    await rejectsWith(
      provider.read('00000000-0000-4000-8000-000000000000', { adminSocket: other.socket }),
      'another_daemon',
      /is instance .*, not 00000000-0000-4000-8000-000000000000/,
    );
  });
});
