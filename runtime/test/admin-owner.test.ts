// The owner of the running configuration, at the admin API of a real pop3d:
// set and cleared by headers on PUT, kept by a PUT without them, guarded by
// Pop3d-If-Owner, shown by GET /v1/config (a header: the body stays the
// canonical configuration) and GET /v1/status, and persisted across a restart.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { freePort, removeDir, startReadyDaemon, type Daemon, greeting } from '@pop3-iac/test-kit';

const OWNER = { project: 'mail', stack: 'prod', resource: 'pop3', claim: '7d0f1a52-5d0c-4f53-9f0e-0c1d2e3f4a5b' };

describe('admin API: the owner of the configuration', () => {
  let daemon: Daemon;
  let port: number;

  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({ config: { binds: `127.0.0.1 ${port}` } });
  });
  after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });

  const owner = async () => ((await daemon.admin('GET', '/v1/status')).body as { owner: unknown }).owner;
  const config = (deny: string[]) => ({ binds: `127.0.0.1 ${port}`, deny });

  it('a daemon started from --config is owned by nobody; GET /v1/config says so in Pop3d-Owner', async () => {
    const get = await daemon.admin('GET', '/v1/config');
    assert.equal(get.headers['pop3d-owner'], 'none');
    assert.match(String(get.headers['pop3d-instance-id']), /^[0-9a-f-]{36}$/);
    assert.equal(await owner(), null);
  });

  it('a PUT with Pop3d-Owner records it; the body of GET /v1/config stays the configuration alone', async () => {
    const put = await daemon.admin('PUT', '/v1/config', config(['10.0.0.1']), {
      'Pop3d-Owner': JSON.stringify(OWNER),
      'Pop3d-If-Owner': 'none',
    });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual((put.body as { owner: unknown }).owner, OWNER);
    const get = await daemon.admin('GET', '/v1/config');
    assert.deepEqual(JSON.parse(String(get.headers['pop3d-owner'])), OWNER);
    assert.ok(!('owner' in (get.body as object)));
    assert.deepEqual(await owner(), OWNER);
  });

  it('a PUT without Pop3d-Owner (a hand apply) keeps the owner', async () => {
    const put = await daemon.admin('PUT', '/v1/config', config(['10.0.0.2']));
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(await owner(), OWNER);
  });

  it('Pop3d-If-Owner naming another claim is 412 owner_mismatch with the owner, and nothing changes', async () => {
    const before = (await daemon.admin('GET', '/v1/config')).headers.etag;
    for (const ifOwner of ['none', 'another-claim']) {
      const put = await daemon.admin('PUT', '/v1/config', config([]), {
        'Pop3d-If-Owner': ifOwner,
        'Pop3d-Owner': 'none',
      });
      assert.equal(put.status, 412, put.text);
      assert.equal((put.body as { code: string }).code, 'owner_mismatch');
      assert.deepEqual((put.body as { owner: unknown }).owner, OWNER);
    }
    assert.equal((await daemon.admin('GET', '/v1/config')).headers.etag, before);
    assert.deepEqual(await owner(), OWNER);
  });

  it('a malformed owner header is 400 bad_owner naming the field, and nothing changes', async () => {
    const put = await daemon.admin('PUT', '/v1/config', config([]), {
      'Pop3d-Owner': JSON.stringify({ ...OWNER, claim: '' }),
    });
    assert.equal(put.status, 400, put.text);
    assert.equal((put.body as { code: string }).code, 'bad_owner');
    assert.match((put.body as { message: string }).message, /claim must be a non-empty string/);
    assert.deepEqual(await owner(), OWNER);
  });

  it('the same configuration under another owner changes only the record; a non-ASCII name survives the header', async () => {
    const generation = (await daemon.admin('GET', '/v1/status')).body as { generation: number };
    const next = { ...OWNER, resource: 'pöp3', claim: 'second-claim' };
    const header = JSON.stringify(next).replace(/ö/g, '\\u00f6');
    const put = await daemon.admin('PUT', '/v1/config', config(['10.0.0.2']), {
      'Pop3d-Owner': header,
      'Pop3d-If-Owner': OWNER.claim,
    });
    assert.equal(put.status, 200, put.text);
    assert.equal((put.body as { applied: boolean }).applied, false);
    assert.deepEqual(await owner(), next);
    assert.equal(
      ((await daemon.admin('GET', '/v1/status')).body as { generation: number }).generation,
      generation.generation,
    );
  });

  it('the owner is persisted: after a restart it is the same, and the daemon serves', async () => {
    const before = await owner();
    await daemon.stop();
    daemon = await startReadyDaemon({ config: { binds: [] }, dir: daemon.dir });
    assert.deepEqual(await owner(), before);
    assert.match((await greeting({ host: '127.0.0.1', port })) ?? '', /^\+OK/);
  });

  it('Pop3d-Owner: none clears it', async () => {
    const put = await daemon.admin('PUT', '/v1/config', config([]), { 'Pop3d-Owner': 'none' });
    assert.equal(put.status, 200, put.text);
    assert.equal(await owner(), null);
  });
});
