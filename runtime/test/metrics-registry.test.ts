/**
 * The metrics module in-process: what a session's commands count (real
 * sockets, real Maildir, through the test harness), bounded labels, and one
 * registry per daemon.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DaemonMetrics, refusalReason } from '../src/observability/metrics';
import { parseMetricsListen as parseListenAddress } from '../src/observability/metrics-listener';
import { type Harness, startHarness } from './support/harness';
import { makeMaildir } from '@pop3-iac/test-kit';

/** The value of one sample line (`name{labels} value`) in a scrape, or undefined. */
async function sample(metrics: DaemonMetrics, series: string): Promise<number | undefined> {
  const text = await metrics.render();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics counted by a session', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ limits: { loginFailureDelayMs: 0, loginFailureDelayMaxMs: 0 } });
    await makeMaildir(h.root, 'alice', ['Subject: one\r\n\r\nHello\r\n']);
  });
  afterEach(async () => {
    await h.close();
  });

  it('counts each command by verb and first reply, an unknown verb as other, never the verb sent', async () => {
    const c = await h.login('alice', 'alice-secret');
    assert.equal(await c.command('XYZZY-alice'), '-ERR Unknown command');
    assert.equal(await c.command('RETR 9'), '-ERR No such message');
    assert.equal((await c.multi('RETR 1')).status, '+OK 23 octets');
    assert.match((await c.multi('TOP 1 0')).status ?? '', /^\+OK/);
    assert.match((await c.command('QUIT')) ?? '', /^\+OK/);
    await h.idle();
    const m = h.metrics;
    assert.equal(await sample(m, 'pop3d_commands_total{command="other",result="err"}'), 1);
    assert.equal(await sample(m, 'pop3d_commands_total{command="RETR",result="err"}'), 1);
    assert.equal(await sample(m, 'pop3d_commands_total{command="RETR",result="ok"}'), 1);
    assert.equal(await sample(m, 'pop3d_commands_total{command="TOP",result="ok"}'), 1);
    // TOP is not a retrieval; a failed RETR is not either.
    assert.equal(await sample(m, 'pop3d_messages_retrieved_total'), 1);
    const text = await m.render();
    assert.equal(text.includes('XYZZY'), false);
    assert.equal(text.includes('alice'), false);
  });

  it('counts AUTH PLAIN by its outcome, not by the "+ " challenge', async () => {
    const c = await h.connect();
    assert.equal(await c.command('AUTH PLAIN'), '+ ');
    assert.equal(
      await c.command(Buffer.from('\0alice\0wrong').toString('base64')),
      '-ERR [AUTH] Authentication failed',
    );
    assert.equal(await c.command('AUTH PLAIN'), '+ ');
    assert.match((await c.command(Buffer.from('\0alice\0alice-secret').toString('base64'))) ?? '', /^\+OK Logged in/);
    assert.equal(await sample(h.metrics, 'pop3d_commands_total{command="AUTH",result="err"}'), 1);
    assert.equal(await sample(h.metrics, 'pop3d_commands_total{command="AUTH",result="ok"}'), 1);
    assert.equal(await sample(h.metrics, 'pop3d_logins_total{result="failure",mechanism="PLAIN"}'), 1);
    assert.equal(await sample(h.metrics, 'pop3d_logins_total{result="success",mechanism="PLAIN"}'), 1);
    assert.equal(await sample(h.metrics, 'pop3d_login_failure_delay_seconds_count'), 1);
    c.close();
  });

  it('counts deletions only when QUIT removes the files, not at DELE or after RSET', async () => {
    await makeMaildir(h.root, 'bob', ['Subject: a\r\n\r\na\r\n', 'Subject: b\r\n\r\nb\r\n']);
    const c = await h.login('bob', 'bob-secret');
    assert.match((await c.command('DELE 1')) ?? '', /^\+OK/);
    assert.match((await c.command('RSET')) ?? '', /^\+OK/);
    assert.match((await c.command('DELE 2')) ?? '', /^\+OK/);
    assert.equal(await sample(h.metrics, 'pop3d_messages_deleted_total'), 0);
    assert.equal(await c.command('QUIT'), '+OK Logging out (1 deleted)');
    await h.idle();
    assert.equal(await sample(h.metrics, 'pop3d_messages_deleted_total'), 1);
  });
});

describe('the metrics registry', () => {
  it('is one per daemon: two in one process count apart', async () => {
    const a = new DaemonMetrics();
    const b = new DaemonMetrics();
    a.countRefusal('203.0.113.0/24', 'deny');
    a.countRefusal('proxy-header', 'proxy', 'pop3 127.0.0.1:110');
    assert.equal(await sample(a, 'pop3d_connections_refused_total{rule="203.0.113.0/24",reason="deny"}'), 1);
    assert.equal(await sample(a, 'pop3d_connections_refused_total{rule="proxy-header",reason="proxy"}'), 1);
    assert.equal(
      await sample(a, 'pop3d_listener_connections_total{listener="pop3 127.0.0.1:110",outcome="refused"}'),
      1,
    );
    assert.equal((await b.render()).includes('203.0.113.0/24'), false);
  });

  it('leaves out the Node.js defaults that walk every open socket at each scrape, keeps the others', async () => {
    const text = await new DaemonMetrics().render();
    const types = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    for (const name of ['process_open_fds', 'nodejs_active_handles', 'nodejs_active_resources'])
      assert.equal(types.has(name), false, name);
    for (const name of ['process_resident_memory_bytes', 'process_max_fds', 'nodejs_eventloop_lag_seconds'])
      assert.equal(types.has(name), true, name);
  });

  it('names the reason of each connection-control rule', () => {
    assert.equal(refusalReason('permit'), 'permit');
    assert.equal(refusalReason('maxConnections'), 'cap');
    assert.equal(refusalReason('maxConnectionsPerIp'), 'cap');
    assert.equal(refusalReason('10.0.0.0/8'), 'deny');
  });

  it('keeps the open-session gauge by state from the events, back to zero at close', async () => {
    const m = new DaemonMetrics();
    const first = m.sessionStarted();
    const second = m.sessionStarted();
    m.loginSucceeded('USER');
    assert.equal(await sample(m, 'pop3d_sessions_open{state="authorization"}'), 1);
    assert.equal(await sample(m, 'pop3d_sessions_open{state="transaction"}'), 1);
    first(true, 100);
    second(false, 20);
    assert.equal(await sample(m, 'pop3d_sessions_open{state="authorization"}'), 0);
    assert.equal(await sample(m, 'pop3d_sessions_open{state="transaction"}'), 0);
    assert.equal(await sample(m, 'pop3d_sent_bytes_total'), 120);
    assert.equal(await sample(m, 'pop3d_session_duration_seconds_count'), 2);
  });

  it('counts a TLS version outside the known set as other', async () => {
    const m = new DaemonMetrics();
    m.tlsHandshakeSucceeded('TLSv1.3');
    m.tlsHandshakeSucceeded('SSLv3-from-the-future');
    m.tlsHandshakeFailed();
    m.tlsHandshakeFailed();
    assert.equal(await sample(m, 'pop3d_tls_handshakes_total{result="success",version="TLSv1.3"}'), 1);
    assert.equal(await sample(m, 'pop3d_tls_handshakes_total{result="success",version="other"}'), 1);
    assert.equal(await sample(m, 'pop3d_tls_handshakes_total{result="failure",version="none"}'), 2);
    assert.equal(await sample(m, 'pop3d_tls_handshake_failures_total'), 2);
  });
});

describe('--metrics-listen <address:port>', () => {
  it('takes IPv4, bracketed IPv6, a name and *', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:9110'), { host: '127.0.0.1', port: 9110 });
    assert.deepEqual(parseListenAddress('[::1]:9110'), { host: '::1', port: 9110 });
    assert.deepEqual(parseListenAddress('localhost:9110'), { host: 'localhost', port: 9110 });
    assert.deepEqual(parseListenAddress('*:9110'), { host: '::', port: 9110 });
  });

  it('refuses anything else with a message naming the flag', () => {
    for (const bad of ['9110', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', '::1:9110', ':9110', '[::1]9110'])
      assert.throws(() => parseListenAddress(bad), /^MetricsListenError: --metrics-listen /, bad);
  });
});
