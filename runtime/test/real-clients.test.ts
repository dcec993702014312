// pop3d driven by the clients users actually run: curl, Python's poplib,
// openssl s_client and mpop, over plain POP3, STLS and implicit TLS.
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  makeCertificate,
  type TestCertificate,
  freePort,
  startReadyDaemon,
  type Daemon,
  type MessageSpec,
} from '@pop3-iac/test-kit';

async function run(command: string, args: string[], input?: string) {
  const { execa } = await import('execa');
  return execa(command, args, { reject: false, input, timeout: 30_000 });
}

const MESSAGES: MessageSpec[] = [
  { content: 'From: one@example.test\r\nSubject: first\r\n\r\nHello, first.\r\n' },
  { content: 'From: two@example.test\nSubject: bare LF\n\nline one\n.starts with a dot\nlast line\n' },
  {
    content:
      `From: three@example.test\r\nSubject: bigger\r\n\r\n${'x'.repeat(70)}\r\n`.repeat(1) + 'tail\r\n'.repeat(2000),
  },
  { content: 'From: four@example.test\nSubject: new mail\n\nstill in new/\n', folder: 'new' },
];

/** What a message is on the wire: CRLF line endings (the octets POP3 counts). */
const asSent = (content: string) => content.replace(/\r?\n/g, '\r\n');

describe('real clients', () => {
  let daemon: Daemon;
  let cert: TestCertificate;
  let port: number;
  let sslPort: number;

  before(async () => {
    cert = makeCertificate();
    [port, sslPort] = [await freePort(), await freePort()];
    daemon = await startReadyDaemon({
      config: {
        binds: `127.0.0.1 ${port}`,
        ssl: { enabled: true, binds: `127.0.0.1 ${sslPort}` },
        starttls: true,
        tls: { certFile: cert.certFile, keyFile: cert.keyFile },
      },
      users: { alice: 'secret', bob: 'hunter2', carol: 'pw' },
      mail: { alice: MESSAGES, bob: MESSAGES, carol: MESSAGES },
    });
  });
  after(() => daemon.stop());

  it('curl lists and retrieves over plain POP3', async () => {
    const list = await run('curl', ['--silent', '--show-error', '-u', 'alice:secret', `pop3://127.0.0.1:${port}/`]);
    assert.equal(list.exitCode, 0, list.stderr);
    const sizes = MESSAGES.map((m) => Buffer.byteLength(asSent(String(m.content))));
    assert.deepEqual(
      list.stdout.trim().split(/\r?\n/),
      sizes.map((size, i) => `${i + 1} ${size}`),
    );
    const retr = await run('curl', ['--silent', '--show-error', '-u', 'alice:secret', `pop3://127.0.0.1:${port}/2`]);
    assert.equal(retr.exitCode, 0, retr.stderr);
    // curl un-stuffs the leading dot and keeps CRLF.
    assert.equal(retr.stdout, asSent(String(MESSAGES[1]!.content)).replace(/\r\n$/, ''));
  });

  it('curl retrieves over implicit TLS (pop3s://), verifying the certificate', async () => {
    const result = await run('curl', [
      '--silent',
      '--show-error',
      '--cacert',
      cert.certFile,
      '-u',
      'alice:secret',
      `pop3s://localhost:${sslPort}/1`,
    ]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /Hello, first\./);
  });

  it('curl --ssl-reqd upgrades with STLS', async () => {
    const result = await run('curl', [
      '--silent',
      '--show-error',
      '--ssl-reqd',
      '--cacert',
      cert.certFile,
      '-u',
      'alice:secret',
      `pop3://localhost:${port}/1`,
    ]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /Hello, first\./);
  });

  it("Python's poplib: stat, list, retr, uidl, top, dele and quit (over STLS)", async () => {
    const script = `
import poplib, ssl, json, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
p = poplib.POP3('localhost', int(sys.argv[1]), timeout=10)
p.stls(context=ctx)
p.user('bob'); p.pass_('hunter2')
out = {}
out['stat'] = list(p.stat())
out['list'] = [x.decode() for x in p.list()[1]]
out['retr2'] = [x.decode() for x in p.retr(2)[1]]
out['uidl'] = [x.decode() for x in p.uidl()[1]]
out['top1'] = [x.decode() for x in p.top(1, 0)[1]]
out['dele'] = p.dele(1).decode()
out['stat_after'] = list(p.stat())
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;
    const result = await run('python3', ['-c', script, String(port), cert.certFile]);
    assert.equal(result.exitCode, 0, result.stderr);
    const out = JSON.parse(result.stdout) as Record<string, unknown>;
    const sizes = MESSAGES.map((m) => Buffer.byteLength(asSent(String(m.content))));
    assert.deepEqual(out.stat, [4, sizes.reduce((a, b) => a + b, 0)]);
    assert.deepEqual(
      out.list,
      sizes.map((s, i) => `${i + 1} ${s}`),
    );
    assert.deepEqual(out.retr2, [
      'From: two@example.test',
      'Subject: bare LF',
      '',
      'line one',
      '.starts with a dot',
      'last line',
    ]);
    const uidls = (out.uidl as string[]).map((line) => line.split(' ')[1]);
    assert.equal(new Set(uidls).size, 4);
    assert.ok(uidls.every((u) => /^[\x21-\x7e]{1,70}$/.test(u!)));
    assert.deepEqual(out.top1, ['From: one@example.test', 'Subject: first', '']);
    assert.match(String(out.dele), /^\+OK/);
    assert.deepEqual(out.stat_after, [3, sizes.slice(1).reduce((a, b) => a + b, 0)]);
    assert.match(String(out.quit), /^\+OK/);
    const left = await readdir(join(daemon.maildirRoot, 'bob', 'Maildir', 'cur'));
    assert.equal(left.length, 3);
  });

  it('openssl s_client -starttls pop3: CAPA after TLS has no STLS, login works', async () => {
    const result = await run(
      'openssl',
      [
        's_client',
        '-quiet',
        '-verify_return_error',
        '-CAfile',
        cert.certFile,
        '-starttls',
        'pop3',
        '-connect',
        `127.0.0.1:${port}`,
      ],
      'CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n',
    );
    assert.equal(result.exitCode, 0, result.stderr);
    const capa = result.stdout.slice(0, result.stdout.indexOf('\r\n.\r\n'));
    assert.match(capa, /^USER\r$/m);
    assert.match(capa, /^SASL PLAIN\r$/m);
    assert.doesNotMatch(capa, /^STLS/m);
    assert.match(result.stdout, /^\+OK 4 \d+\r$/m);
  });

  it('mpop downloads the whole mailbox over STLS; every message arrives byte for byte', async () => {
    const work = await mkdtemp(join(tmpdir(), 'mpop-'));
    const { mkdir } = await import('node:fs/promises');
    for (const sub of ['new', 'cur', 'tmp']) await mkdir(join(work, 'inbox', sub), { recursive: true });
    const conf = join(work, 'mpoprc');
    await writeFile(
      conf,
      [
        'account test',
        'host localhost',
        `port ${port}`,
        'user carol',
        'password pw',
        'auth user',
        'tls on',
        'tls_starttls on',
        `tls_trust_file ${cert.certFile}`,
        `delivery maildir ${join(work, 'inbox')}`,
        `uidls_file ${join(work, 'uidls')}`,
        'keep off',
        // mpop would add its own Received: header; the test compares the bytes pop3d sent.
        'received_header off',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const result = await run('mpop', ['--file', conf, '--quiet', 'test']);
    assert.equal(result.exitCode, 0, `${result.stdout}\n${result.stderr}`);
    const delivered = await readdir(join(work, 'inbox', 'new'));
    assert.equal(delivered.length, MESSAGES.length);
    const received = await Promise.all(delivered.map((name) => readFile(join(work, 'inbox', 'new', name), 'utf8')));
    // mpop writes Maildir files with LF endings; compare each message in that form.
    const expected = MESSAGES.map((m) => String(m.content).replace(/\r\n/g, '\n')).sort();
    assert.deepEqual(received.map((text) => text.replace(/\r\n/g, '\n')).sort(), expected);
    // keep off: mpop deleted them with DELE and QUIT.
    assert.deepEqual(await readdir(join(daemon.maildirRoot, 'carol', 'Maildir', 'cur')), []);
    assert.deepEqual(await readdir(join(daemon.maildirRoot, 'carol', 'Maildir', 'new')), []);
  });
  it('the daemon log of all these sessions holds no password and no message content', () => {
    const log = daemon.output();
    assert.match(log, /"event":"login\./, 'the sessions were logged');
    for (const secret of [
      'secret',
      'hunter2',
      ':pw',
      'Hello, first',
      'starts with a dot',
      'still in new/',
      'AGFsaWNl',
    ]) {
      assert.equal(log.includes(secret), false, `the log contains ${JSON.stringify(secret)}`);
    }
  });
});
