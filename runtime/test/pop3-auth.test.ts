/**
 * AUTH PLAIN (RFC 5034, RFC 4616) over real sockets.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { decodePlainResponse } from '../src/pop3/index';
import { type Harness, startHarness } from './support/harness';
import { makeMaildir } from '@pop3-iac/test-kit';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const GOOD = b64('\0alice\0alice-secret');

describe('pop3 AUTH PLAIN', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await makeMaildir(h.root, 'alice', ['Subject: x\r\n\r\ny\r\n']);
  });
  afterEach(async () => {
    await h.close();
  });

  it('AUTH PLAIN with initial response', async () => {
    const c = await h.connect();
    assert.match((await c.command(`AUTH PLAIN ${GOOD}`)) ?? '', /^\+OK Logged in, 1 messages/);
    assert.equal(await c.command('STAT'), '+OK 1 17');
    assert.ok(h.logs.some((l) => l.event === 'login.succeeded' && l.mechanism === 'PLAIN'));
    // The payload is never logged.
    assert.ok(!h.logText().includes(GOOD));
    assert.ok(!h.logText().includes('alice-secret'));
  });

  it('AUTH PLAIN without initial response (continuation)', async () => {
    const c = await h.connect();
    assert.equal(await c.command('auth plain'), '+ ');
    assert.match((await c.command(GOOD)) ?? '', /^\+OK Logged in/);
  });

  it('AUTH PLAIN cancelled with *', async () => {
    const c = await h.connect();
    assert.equal(await c.command('AUTH PLAIN'), '+ ');
    assert.equal(await c.command('*'), '-ERR Authentication cancelled');
    // Back to commands, still in AUTHORIZATION.
    assert.equal(await c.command('STAT'), '-ERR Command not valid in this state');
    assert.match((await c.command(`AUTH PLAIN ${GOOD}`)) ?? '', /^\+OK Logged in/);
  });

  it('AUTH PLAIN rejects "=" (empty), bad base64 and a foreign authzid', async () => {
    const c = await h.connect();
    assert.equal(await c.command('AUTH PLAIN ='), '-ERR Malformed SASL PLAIN message');
    assert.equal(await c.command('AUTH PLAIN AGFsaWNl!!!'), '-ERR Invalid base64 data');
    assert.equal(await c.command('AUTH PLAIN'), '+ ');
    assert.equal(await c.command('not base64 at all'), '-ERR Invalid base64 data');
    assert.equal(
      await c.command(`AUTH PLAIN ${b64('bob\0alice\0alice-secret')}`),
      '-ERR [AUTH] Authorization identity not permitted',
    );
    assert.equal(await c.command(`AUTH PLAIN ${b64('alice\0alice')}`), '-ERR Malformed SASL PLAIN message');
    assert.match((await c.command(`AUTH PLAIN ${b64('alice\0alice\0alice-secret')}`)) ?? '', /^\+OK Logged in/);
  });

  it('AUTH PLAIN with a wrong password answers [AUTH] after the delay', async () => {
    const c = await h.connect();
    assert.equal(await c.command(`AUTH PLAIN ${b64('\0alice\0nope')}`), '-ERR [AUTH] Authentication failed');
    assert.equal(await c.command(`AUTH PLAIN ${b64('\0ghost\0nope')}`), '-ERR [AUTH] Authentication failed');
    assert.equal(h.throttle.failures('127.0.0.1'), 2);
  });

  it('AUTH without arguments lists mechanisms; unknown mechanisms are refused', async () => {
    const c = await h.connect();
    const list = await c.multi('AUTH');
    assert.equal(list.status, '+OK');
    assert.deepEqual(list.lines, ['PLAIN']);
    assert.equal(await c.command('AUTH CRAM-MD5'), '-ERR Unsupported authentication mechanism');
  });

  it('a too-long AUTH continuation line ends the exchange', async () => {
    const c = await h.connect();
    assert.equal(await c.command('AUTH PLAIN'), '+ ');
    assert.equal(await c.command('A'.repeat(2000)), '-ERR Line too long');
    assert.equal(await c.command('NOOP'), '-ERR Command not valid in this state');
  });

  it('decodes PLAIN messages per RFC 4616', () => {
    assert.deepEqual(decodePlainResponse(b64('\0tim\0tanstaaftanstaaf')), {
      ok: true,
      authzid: '',
      authcid: 'tim',
      password: 'tanstaaftanstaaf',
    });
    assert.deepEqual(decodePlainResponse(b64('Ursel\0Kurt\0xipj3plmq')), {
      ok: true,
      authzid: 'Ursel',
      authcid: 'Kurt',
      password: 'xipj3plmq',
    });
    assert.deepEqual(decodePlainResponse(b64('\0a\0b\0c')), { ok: false, error: 'malformed' });
    assert.deepEqual(decodePlainResponse('AGFsaWNl'), { ok: false, error: 'malformed' });
    assert.deepEqual(decodePlainResponse('AGFsaWN'), { ok: false, error: 'bad-base64' });
    assert.deepEqual(decodePlainResponse(Buffer.from('\0a\0\xff', 'latin1').toString('base64')), {
      ok: false,
      error: 'malformed',
    });
  });
});
