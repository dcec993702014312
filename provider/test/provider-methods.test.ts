// The provider's methods called directly, as the dynamic-provider host calls
// them, against a real pop3d: the fast counterpart of pulumi-cli.test.ts.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { canonicalize, keyFingerprint } from '@pop3-iac/schema';
import { FIELDS, pop3ServiceProvider } from '../src';
import * as operations from '../src/operations';
import {
  firstLine,
  freePort,
  holdPort,
  liveConfig,
  liveListeners,
  login,
  makeCertificate,
  rejectsWith,
  release,
  removeDaemon,
  startAliceDaemon,
  type Daemon,
  type TestCertificate,
} from './support';

type Props = Record<string, unknown>;

/** What the Pop3Service class adds to every resource's inputs. */
const OWNER = { project: 'proj', stack: 'dev', resource: 'pop3' };

const provider = pop3ServiceProvider as Required<pulumi.dynamic.ResourceProvider>;

/**
 * check, then the inputs it returns: what the engine passes to create/diff/update. As the check of
 * an update (the socket unchanged), so a path nothing answers at is not a failure.
 */
async function checked(news: Props): Promise<Props> {
  const result = await provider.check({ adminSocket: news.adminSocket }, { owner: OWNER, ...news });
  assert.deepEqual(result.failures ?? [], [], 'check failed');
  return result.inputs as Props;
}

async function failuresOf(news: Props): Promise<Array<{ property: string; reason: string }>> {
  const result = await provider.check({ adminSocket: news.adminSocket }, { owner: OWNER, ...news });
  return [...(result.failures ?? [])];
}

describe('check', () => {
  it('returns the canonical config, so equivalent spellings are equal inputs', async () => {
    const text = await checked({
      adminSocket: '/run/pop3d//admin.sock',
      binds: '127.0.0.1 1110, [::1]:1110',
      deny: '10.1.2.3/8',
    });
    const structured = await checked({
      adminSocket: '/run/pop3d/admin.sock',
      binds: [{ address: '::1', port: 1110 }, '127.0.0.1 1110'],
      deny: ['10.0.0.0/8'],
    });
    assert.deepEqual(text, structured);
    assert.equal(text.adminSocket, '/run/pop3d/admin.sock');
    assert.deepEqual(text.binds, [
      { address: '127.0.0.1', port: 1110 },
      { address: '::1', port: 1110 },
    ]);
  });

  it('names each failing property by its schema path', async () => {
    const duplicates = await failuresOf({
      adminSocket: '/run/pop3d/admin.sock',
      binds: '127.0.0.1 1110, 127.0.0.1 1110',
    });
    assert.deepEqual(duplicates, [{ property: 'binds[1]', reason: '"127.0.0.1 1110" is listed twice' }]);
    const failures = await failuresOf({
      adminSocket: '/run/pop3d/admin.sock',
      port: 70000,
      ssl: { enabled: true, binds: [{ address: '127.0.0.1' }, { address: '127.0.0.2', port: 70000 }] },
      deny: ['10.0.0.0/33'],
    });
    assert.deepEqual(failures.map((f) => f.property).sort(), ['deny[0]', 'port', 'ssl.binds[1].port', 'tls']);
    assert.match(failures.find((f) => f.property === 'tls')!.reason, /required when ssl.enabled/);
  });

  it('rejects an input key Pop3Service does not take, naming it (a JavaScript bindz:)', async () => {
    const failures = await failuresOf({ adminSocket: '/run/pop3d/admin.sock', bindz: '127.0.0.1 1110', denny: [] });
    assert.deepEqual(
      failures.map((f) => f.property),
      ['bindz', 'denny'],
    );
    assert.match(failures[0]!.reason, /^is not an input of Pop3Service \(did you mean binds\?\)/);
    assert.match(failures[1]!.reason, /did you mean deny\?/);
  });

  it('keeps the owner names the class gives, and the names its aliases give', async () => {
    const owner = { ...OWNER, resource: 'renamed', aliases: [{ ...OWNER, resource: 'pop3' }, { bad: 1 }] };
    const result = await provider.check(
      { adminSocket: '/run/pop3d/admin.sock' },
      { owner, adminSocket: '/run/pop3d/admin.sock' },
    );
    assert.deepEqual((result.inputs as Props).owner, { ...owner, aliases: [{ ...OWNER, resource: 'pop3' }] });
  });

  it('requires adminSocket to be an absolute path', async () => {
    assert.deepEqual(
      (await failuresOf({ binds: [] })).map((f) => f.property),
      ['adminSocket'],
    );
    const relative = await failuresOf({ adminSocket: 'state/admin.sock' });
    assert.equal(relative[0]?.property, 'adminSocket');
    assert.match(relative[0]!.reason, /absolute/);
  });

  it('unwraps secrets and stores the inline key beside its fingerprint', async () => {
    const certificate = makeCertificate();
    const secret = {
      '4dabf18193072939515e22adb298388d': '1b47061264138c4ac30d75fd1eb44270',
      value: certificate.keyPem,
    };
    const inputs = await checked({
      adminSocket: '/run/pop3d/admin.sock',
      starttls: true,
      tls: { certPem: certificate.certPem, keyPem: secret },
    });
    assert.deepEqual(inputs.tls, {
      certPem: certificate.certPem,
      keyPem: certificate.keyPem,
      keyFingerprint: keyFingerprint(certificate.keyPem),
      minVersion: 'TLSv1.2',
    });
  });

  // Regression: the engine prints the program's value of a failing top-level
  // property, secrets in plain text; a whole-`tls` failure must not name `tls`.
  it('reports a whole-tls failure of an inline key on the resource, never with the key', async () => {
    const certificate = makeCertificate();
    const failures = await failuresOf({
      adminSocket: '/run/pop3d/admin.sock',
      tls: { certFile: certificate.certFile, certPem: certificate.certPem, keyPem: certificate.keyPem },
    });
    assert.deepEqual(failures, [
      {
        property: '',
        reason: `tls: give the certificate either as files (certFile, keyFile) or inline (certPem, keyPem), not both`,
      },
    ]);
  });

  it('leaves inputs that are unknown during preview to a later check', async () => {
    const unknown = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';
    const news = { adminSocket: unknown, binds: '127.0.0.1 70000', owner: OWNER };
    assert.deepEqual(await provider.check({}, news), { inputs: news });
  });
});

describe('against a real pop3d', () => {
  let daemon: Daemon;
  let certificate: TestCertificate;
  let port: number;
  let otherPort: number;
  let sslPort: number;

  before(async () => {
    [port, otherPort, sslPort] = await Promise.all([freePort(), freePort('127.0.0.2'), freePort()]);
    certificate = makeCertificate();
    daemon = await startAliceDaemon({ binds: `127.0.0.1 ${port}` });
  });
  after(() => removeDaemon(daemon));

  const desired = (extra: Props = {}): Props => ({
    owner: OWNER,
    adminSocket: daemon.socket,
    binds: `127.0.0.1 ${port}`,
    ssl: { enabled: true, binds: '127.0.0.1', port: sslPort },
    starttls: true,
    tls: { certPem: certificate.certPem, keyPem: certificate.keyPem },
    deny: ['127.0.0.9'],
    ...extra,
  });

  let state: Props;

  it('create applies the config and returns the redacted canonical outputs', async () => {
    const created = await provider.create(await checked(desired()));
    state = created.outs as Props;
    const status = (await daemon.admin('GET', '/v1/status')).body as { instanceId: string; owner: Props };
    assert.equal(created.id, status.instanceId, 'the ID is the daemon instanceId');
    assert.equal(state.instanceId, status.instanceId);
    assert.deepEqual(status.owner, state.owner, 'the daemon records the owner the outputs hold');
    assert.deepEqual({ ...(state.owner as Props), claim: undefined }, { ...OWNER, claim: undefined });
    assert.equal(state.adminSocket, daemon.socket);
    assert.deepEqual(state.listeners, [
      { address: '127.0.0.1', port, tls: false },
      { address: '127.0.0.1', port: sslPort, tls: true },
    ]);
    assert.deepEqual(state.tls, {
      certPem: certificate.certPem,
      keyFingerprint: keyFingerprint(certificate.keyPem),
      minVersion: 'TLSv1.2',
    });
    assert.doesNotMatch(JSON.stringify(state), /PRIVATE KEY/);
    const live = await liveConfig(daemon);
    assert.equal(state.etag, live.etag);
    assert.equal(typeof state.generation, 'number');
    assert.match(await firstLine('127.0.0.1', port), /^\+OK/);
    assert.match(await firstLine('127.0.0.1', sslPort, undefined, true), /^\+OK/);
    assert.doesNotMatch(await firstLine('127.0.0.1', port, '127.0.0.9'), /^\+OK/);
  });

  it('diff: no change for the same config in another spelling, or a different serialized provider', async () => {
    const respelled = await checked(
      desired({
        binds: [{ address: '127.0.0.1', port }],
        ssl: { enabled: true, binds: [{ address: '127.0.0.1' }], port: sslPort },
        deny: '127.0.0.9/32',
      }),
    );
    const result = await provider.diff(
      daemon.socket,
      { ...state, __provider: 'old text' },
      { ...respelled, __provider: 'new text' },
    );
    assert.equal(result.changes, false);
    assert.deepEqual(result.replaces, []);
  });

  it('diff: a changed field is an update in place; an adminSocket nothing answers at fails naming it', async () => {
    const withDeny = await provider.diff(
      daemon.socket,
      state,
      await checked(desired({ deny: ['127.0.0.9', '127.0.0.10'] })),
    );
    assert.equal(withDeny.changes, true);
    assert.deepEqual(withDeny.replaces, []);
    assert.ok(!withDeny.stables?.includes('deny'));

    await rejectsWith(
      provider.diff(daemon.socket, state, { ...(await checked(desired())), adminSocket: '/elsewhere/admin.sock' }),
      'daemon_unreachable',
      /^cannot reach pop3d at \/elsewhere\/admin\.sock: .*adminSocket changed from .* to \/elsewhere\/admin\.sock: correct the path.*old daemon keeps serving/,
    );
  });

  it('diff: the same daemon at another path (a symlink) is an update, not a replace', async () => {
    const link = join(daemon.dir, 'link.sock');
    await symlink(daemon.socket, link);
    const moved = await provider.diff(daemon.socket, state, { ...(await checked(desired())), adminSocket: link });
    assert.equal(moved.changes, true);
    assert.deepEqual(moved.replaces, []);
    assert.ok(!moved.stables?.includes('adminSocket'));
  });

  it('diff compares with the live daemon: a change made behind Pulumi shows up', async () => {
    const before = await liveConfig(daemon);
    const { adminSocket: _socket, owner: _owner, ...config } = desired({ deny: ['127.0.0.99'] });
    const outOfBand = await daemon.admin('PUT', '/v1/config', config, { 'If-Match': before.etag });
    assert.equal(outOfBand.status, 200, outOfBand.text);
    const drifted = await provider.diff(daemon.socket, state, await checked(desired()));
    assert.equal(drifted.changes, true);

    // read returns the live config as outputs and inputs: pulumi refresh records the drift.
    const read = await provider.read(daemon.socket, state);
    assert.deepEqual((read.props as Props).deny, ['127.0.0.99']);
    assert.deepEqual((read.inputs as Props).deny, ['127.0.0.99']);
    assert.equal((read.inputs as Props).adminSocket, daemon.socket);
    assert.doesNotMatch(JSON.stringify(read), /PRIVATE KEY/);

    // On refresh the engine diffs the refreshed state against the inputs it had recorded.
    const refreshDiff = await provider.diff(daemon.socket, read.props as Props, await checked(desired()));
    assert.equal(refreshDiff.changes, true);
    // After a persisted refresh, the recorded inputs are the live, redacted config.
    const afterRefresh = await provider.diff(daemon.socket, read.props as Props, read.inputs as Props);
    assert.equal(afterRefresh.changes, false);

    // update (after its diff) restores the program's config.
    await provider.diff(daemon.socket, read.props as Props, await checked(desired()));
    const updated = await provider.update(daemon.socket, read.props as Props, await checked(desired()));
    state = updated.outs as Props;
    assert.deepEqual(state.deny, ['127.0.0.9']);
    assert.equal((await liveConfig(daemon)).etag, state.etag);
  });

  it('diff fails when the daemon cannot be reached, naming it and the remedies', async () => {
    const gone: Props = { ...state, adminSocket: join(daemon.dir, 'no-such.sock') };
    await rejectsWith(
      provider.diff(String(gone.instanceId), gone, { ...(await checked(desired())), adminSocket: gone.adminSocket }),
      'daemon_unreachable',
      /^cannot reach pop3d at .*no-such\.sock: .*start pop3d .*pulumi state delete 'urn:pulumi:dev::proj::pulumi-nodejs:dynamic\/pop3:Pop3Service::pop3'/,
    );
  });

  it('in pulumi up (not a preview) an unreachable daemon fails its own update, naming it, and nothing else', async () => {
    const gone: Props = { ...state, adminSocket: join(daemon.dir, 'no-such.sock') };
    const news = { ...(await checked(desired())), adminSocket: gone.adminSocket };
    try {
      // The Pop3Service class passes preview: pulumi.runtime.isDryRun(); check takes it out of the inputs.
      const applying = await provider.check(gone, {
        owner: OWNER,
        ...desired(),
        adminSocket: gone.adminSocket,
        preview: false,
      });
      assert.equal((applying.inputs as Props).preview, undefined, 'never stored');
      const planned = await provider.diff(String(gone.instanceId), gone, news);
      assert.equal(planned.changes, true, 'an update is planned, so its step can fail on its own');
      assert.deepEqual(planned.replaces, []);
      await rejectsWith(
        provider.update(String(gone.instanceId), gone, news),
        'daemon_unreachable',
        /^cannot reach pop3d at .*no-such\.sock: .*the update needs the daemon's answer, so nothing was changed: start pop3d .*pulumi state delete/,
      );
      // A create on a host that does not answer passes check in pulumi up and fails its own step.
      const fresh = await provider.check(
        {},
        { owner: OWNER, ...desired(), adminSocket: gone.adminSocket, preview: false },
      );
      assert.deepEqual(fresh.failures ?? [], []);
      await rejectsWith(
        provider.create(fresh.inputs as Props),
        'daemon_unreachable',
        /the create needs the daemon's answer/,
      );
    } finally {
      await provider.check(gone, { owner: OWNER, ...desired(), adminSocket: gone.adminSocket, preview: true });
    }
    // Back in a preview, the same diff fails, and a create there fails check.
    await rejectsWith(provider.diff(String(gone.instanceId), gone, news), 'daemon_unreachable', /cannot reach pop3d/);
    const previewed = await provider.check(
      {},
      { owner: OWNER, ...desired(), adminSocket: gone.adminSocket, preview: true },
    );
    assert.match(previewed.failures?.[0]?.reason ?? '', /cannot reach pop3d .*nothing can be applied there/);
  });

  it('update keeps sessions open across the apply and returns every output', async () => {
    const session = await login({ host: '127.0.0.1', port }, 'alice', 'secret');
    try {
      const news = await checked(
        desired({ binds: `127.0.0.1 ${port}, 127.0.0.2 ${otherPort}`, deny: ['127.0.0.9', '127.0.0.10'] }),
      );
      assert.equal((await provider.diff(daemon.socket, state, news)).changes, true);
      const updated = await provider.update(daemon.socket, state, news);
      state = updated.outs as Props;
      for (const field of [
        'adminSocket',
        'binds',
        'port',
        'ssl',
        'starttls',
        'tls',
        'permit',
        'deny',
        'limits',
        'listeners',
        'generation',
        'etag',
      ]) {
        assert.ok(field in state, `update output lacks ${field}`);
      }
      assert.match((await session.command('STAT')) ?? '', /^\+OK 1 /);
      assert.match(await firstLine('127.0.0.2', otherPort), /^\+OK/);
      assert.doesNotMatch(await firstLine('127.0.0.1', port, '127.0.0.10'), /^\+OK/);
    } finally {
      session.close();
    }
  });

  it('update refuses to apply when the daemon changed after the diff', async () => {
    const news = await checked(desired({ deny: ['127.0.0.9'] }));
    assert.equal((await provider.diff(daemon.socket, state, news)).changes, true);
    const sneaky = await daemon.admin('PUT', '/v1/config', { binds: `127.0.0.1 ${port}` });
    assert.equal(sneaky.status, 200, sneaky.text);
    const sneakyEtag = (await liveConfig(daemon)).etag;
    await rejectsWith(
      provider.update(daemon.socket, state, news),
      'changed_underneath',
      /changed underneath Pulumi.*pulumi refresh/s,
    );
    assert.equal((await liveConfig(daemon)).etag, sneakyEtag, 'nothing may be applied');
  });

  it('a stale ETag (412) fails with a message to refresh', async () => {
    await rejectsWith(
      operations.applyConfig(
        { socket: daemon.socket },
        canonicalize({ binds: `127.0.0.1 ${port}` }),
        '"00000000000000000000000000000000"',
      ),
      'precondition_failed',
      /changed while Pulumi was applying.*pulumi refresh or pulumi preview/,
    );
  });

  it('a bind held by another process fails naming it; the daemon keeps its config; it applies once free', async () => {
    // Start from the program's config again.
    let news = await checked(desired());
    await provider.diff(daemon.socket, state, news);
    state = (await provider.update(daemon.socket, state, news)).outs as Props;
    const heldPort = await freePort('127.0.0.3');
    const holder = await holdPort('127.0.0.3', heldPort);
    const before = await liveConfig(daemon);
    news = await checked(desired({ binds: `127.0.0.1 ${port}, 127.0.0.3 ${heldPort}` }));
    try {
      await provider.diff(daemon.socket, state, news);
      await rejectsWith(
        provider.update(daemon.socket, state, news),
        'apply_failed',
        new RegExp(`^binds: "127\\.0\\.0\\.3 ${heldPort}": .*EADDRINUSE.*keeps serving its previous configuration`),
      );
      assert.equal((await liveConfig(daemon)).etag, before.etag);
      assert.match(await firstLine('127.0.0.1', port), /^\+OK/);
    } finally {
      await release(holder);
    }
    await provider.diff(daemon.socket, state, news);
    state = (await provider.update(daemon.socket, state, news)).outs as Props;
    assert.match(await firstLine('127.0.0.3', heldPort), /^\+OK/);
  });

  it('check validates certificate files on the daemon host (POST /v1/config/validate), naming each', async () => {
    const files = { certFile: join(daemon.dir, 'missing.pem'), keyFile: certificate.keyFile };
    const failures = await failuresOf(desired({ tls: files }));
    assert.deepEqual(failures, [
      { property: 'tls.certFile', reason: `on the daemon host: "${files.certFile}" does not exist` },
    ]);
    assert.deepEqual(
      await failuresOf(desired({ tls: { certFile: certificate.certFile, keyFile: certificate.keyFile } })),
      [],
    );
  });

  it('an invalid config the daemon rejects (400) lists each issue by path', async () => {
    // As check would have returned them, had the files still been there.
    const valid = await checked(desired({ tls: { certFile: certificate.certFile, keyFile: certificate.keyFile } }));
    const news = {
      ...valid,
      tls: {
        certFile: join(daemon.dir, 'missing.pem'),
        keyFile: join(daemon.dir, 'missing.key'),
        minVersion: 'TLSv1.2',
      },
    };
    await provider.diff(daemon.socket, state, news);
    await rejectsWith(
      provider.update(daemon.socket, state, news),
      'invalid_config',
      /rejected the configuration:\n {2}tls\.certFile: /,
    );
  });

  it('delete leaves the daemon up with no listener and owned by nobody; again is still success', async () => {
    await provider.delete(String(state.instanceId), state);
    assert.deepEqual(await liveListeners(daemon), []);
    assert.equal(await firstLine('127.0.0.1', port), 'refused');
    const status = await daemon.admin('GET', '/v1/status');
    assert.equal(status.status, 200);
    assert.equal((status.body as Props).owner, null);
    await provider.delete(String(state.instanceId), state);
  });

  it('delete of a daemon that does not answer fails naming it and the remedies', async () => {
    await rejectsWith(
      provider.delete('x', { adminSocket: '/nonexistent/admin.sock', owner: { ...OWNER, claim: 'c' } }),
      'daemon_unreachable',
      /^cannot reach pop3d at \/nonexistent\/admin\.sock: .*the delete needs the daemon's answer, so nothing was changed: start pop3d .*pulumi state delete/,
    );
  });
});

describe('the serialized provider', () => {
  it('is small, names no path of this machine, and works when rebuilt as the host does', async () => {
    const serialized = await pulumi.runtime.serializeFunction(() => pop3ServiceProvider, { allowSecrets: true });
    assert.ok(serialized.text.length < 4000, `serialized provider is ${serialized.text.length} characters`);
    assert.equal(serialized.containsSecrets, false);
    assert.ok(!serialized.text.includes(process.cwd()), 'the serialized provider names a local path');
    // The dynamic-provider host evaluates the text as a module whose require resolves from the project directory.
    const module = { exports: {} as { handler?: () => pulumi.dynamic.ResourceProvider } };
    new Function('exports', 'require', 'module', serialized.text)(
      module.exports,
      createRequire(join(process.cwd(), 'index.js')),
      module,
    );
    const rebuilt = module.exports.handler!();
    const socket = '/run/pop3d/admin.sock';
    const result = await rebuilt.check!(
      { adminSocket: socket },
      { adminSocket: socket, binds: '127.0.0.1 1110', owner: OWNER },
    );
    assert.deepEqual((result.inputs as Props).binds, [{ address: '127.0.0.1', port: 1110 }]);
  });
});

describe('the README', () => {
  it('lists every input with the effect the diff table gives it', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `(\w+)` +\| (update|identity|none) +\| (.+?) +\|$/gm)];
    assert.deepEqual(
      rows.map(([, field, effect, meaning]) => ({ field, effect, meaning })),
      Object.entries(FIELDS).map(([field, spec]) => ({ field, effect: spec.effect, meaning: spec.meaning })),
    );
  });
});
