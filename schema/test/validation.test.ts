// Every validation rule of config-schema.ts, table-driven: the input, the exact
// path the operator is pointed at, and the words the message must contain.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { makeCertificate, type TestCertificate } from '@pop3-iac/test-kit';
import { parseConfig } from '../src';

/** Only the PEMs: a configuration's `tls` carries no file names. */
function pems({ certPem, keyPem }: TestCertificate): { certPem: string; keyPem: string } {
  return { certPem, keyPem };
}

const first = pems(makeCertificate('first.test'));
const second = pems(makeCertificate('second.test'));

interface Case {
  name: string;
  input: unknown;
  path: string;
  message: RegExp;
}

const cases: Case[] = [
  {
    name: 'malformed bind address',
    input: { binds: '192.168.0.300' },
    path: 'binds[0].address',
    message: /"192\.168\.0\.300" is not an IP address/,
  },
  {
    name: 'malformed address in a structured bind',
    input: { ssl: { binds: [{ address: 'mail.example.com' }] } },
    path: 'ssl.binds[0].address',
    message: /not an IP address/,
  },
  {
    name: 'bind port out of range (text)',
    input: { binds: '192.168.0.1 110, 192.168.0.2 70000' },
    path: 'binds[1].port',
    message: /from 1 to 65535/,
  },
  {
    name: 'bind port out of range (structured)',
    input: {
      ssl: {
        binds: [
          { address: '*', port: 995 },
          { address: '::1', port: 995 },
          { address: '127.0.0.1', port: 0 },
        ],
      },
    },
    path: 'ssl.binds[2].port',
    message: /from 1 to 65535/,
  },
  {
    name: 'port not a number in text',
    input: { binds: '127.0.0.1 pop3' },
    path: 'binds[0].port',
    message: /"pop3" is not a number/,
  },
  {
    name: 'three words in one entry',
    input: { binds: '127.0.0.1 110 111' },
    path: 'binds[0]',
    message: /separate binds with commas/,
  },
  { name: 'empty entry in text form', input: { binds: '127.0.0.1,,127.0.0.2' }, path: 'binds[1]', message: /is empty/ },
  { name: 'empty text form', input: { binds: '' }, path: 'binds', message: /leave the field out/ },
  { name: 'port above 65535', input: { port: 70000 }, path: 'port', message: /from 1 to 65535/ },
  { name: 'ssl port zero', input: { ssl: { port: 0 } }, path: 'ssl.port', message: /from 1 to 65535/ },
  { name: 'port not whole', input: { port: 110.5 }, path: 'port', message: /whole/ },
  {
    name: 'duplicate bind',
    input: { binds: '127.0.0.1 110, 127.0.0.2 110, 127.0.0.1 110' },
    path: 'binds[2]',
    message: /listed twice/,
  },
  {
    name: 'duplicate bind through the default port',
    input: { binds: '127.0.0.1, 127.0.0.1 110' },
    path: 'binds[1]',
    message: /listed twice/,
  },
  {
    name: 'duplicate bind in another spelling',
    input: { binds: ['::1 110', '[0:0:0:0:0:0:0:1] 110'] },
    path: 'binds[1]',
    message: /listed twice/,
  },
  {
    name: '* beside a specific address on one port',
    input: { binds: '* 110, 192.168.0.1 110' },
    path: 'binds[1]',
    message: /cannot coexist with "\* 110"/,
  },
  {
    name: '0.0.0.0 beside an IPv4 address',
    input: { binds: '127.0.0.1 110, 0.0.0.0 110' },
    path: 'binds[1]',
    message: /cannot coexist/,
  },
  {
    name: 'plain and SSL bind on one address and port',
    input: { binds: '127.0.0.1 2000', ssl: { enabled: true, binds: '127.0.0.1 2000' }, tls: first },
    path: 'ssl.binds[0]',
    message: /plain POP3 or POP3S, not both/,
  },
  {
    name: 'SSL without a certificate',
    input: { ssl: { enabled: true } },
    path: 'tls',
    message: /required when ssl\.enabled is true/,
  },
  {
    name: 'STARTTLS without a certificate',
    input: { starttls: true },
    path: 'tls',
    message: /required when starttls is true/,
  },
  {
    name: 'certificate that does not match its key',
    input: { starttls: true, tls: { certPem: first.certPem, keyPem: second.keyPem } },
    path: 'tls.keyPem',
    message: /does not match the certificate/,
  },
  {
    name: 'certificate that is not PEM',
    input: { starttls: true, tls: { certPem: 'hello', keyPem: first.keyPem } },
    path: 'tls.certPem',
    message: /not a PEM-encoded X\.509 certificate/,
  },
  {
    name: 'key file without a certificate file',
    input: { starttls: true, tls: { keyFile: '/etc/ssl/key.pem' } },
    path: 'tls.certFile',
    message: /is required/,
  },
  {
    name: 'files and inline PEM at once',
    input: { tls: { certFile: '/a', keyFile: '/b', certPem: first.certPem, keyPem: first.keyPem } },
    path: 'tls',
    message: /not both/,
  },
  {
    name: 'TLS version below 1.2',
    input: { tls: { certFile: '/a', keyFile: '/b', minVersion: 'TLSv1' } },
    path: 'tls.minVersion',
    message: /TLSv1\.2/,
  },
  { name: 'unknown key at the top', input: { bind: '127.0.0.1' }, path: 'bind', message: /not a known field/ },
  {
    name: 'unknown key inside ssl',
    input: { ssl: { enable: true } },
    path: 'ssl.enable',
    message: /not a known field/,
  },
  {
    name: 'malformed permit pattern',
    input: { permit: ['192.168.0.*', '192.168.0.1/33'] },
    path: 'permit[1]',
    message: /between \/0 and \/32/,
  },
  { name: 'wildcard in the middle', input: { deny: ['192.*.0.1'] }, path: 'deny[0]', message: /trailing IPv4 parts/ },
  {
    name: 'leading zeros (octal in some parsers) are refused',
    input: { deny: ['192.168.000.5'] },
    path: 'deny[0]',
    message: /not an IP address/,
  },
  {
    name: 'pattern that is a host name',
    input: { deny: ['evil.example'] },
    path: 'deny[0]',
    message: /not an IP address, a wildcard/,
  },
  { name: 'IPv6 CIDR prefix too long', input: { deny: ['2001:db8::/129'] }, path: 'deny[0]', message: /\/128/ },
  {
    name: 'octet above 255 in a wildcard',
    input: { permit: '10.0.0.0/8, 256.*' },
    path: 'permit[1]',
    message: /above 255/,
  },
  { name: 'boolean given as text', input: { starttls: 'yes' }, path: 'starttls', message: /true or false/ },
  {
    name: 'line length below RFC 2449',
    input: { limits: { maxLineLength: 100 } },
    path: 'limits.maxLineLength',
    message: /at least 255 octets/,
  },
  {
    name: 'negative timeout',
    input: { limits: { idleTimeoutSeconds: -1 } },
    path: 'limits.idleTimeoutSeconds',
    message: /at least 1 seconds/,
  },
  {
    name: 'failure delay cap below the delay',
    input: { limits: { loginFailureDelayMs: 5000, loginFailureDelayMaxMs: 1000 } },
    path: 'limits.loginFailureDelayMaxMs',
    message: /at least loginFailureDelayMs/,
  },
  {
    name: 'unknown limit',
    input: { limits: { maxSessions: 5 } },
    path: 'limits.maxSessions',
    message: /not a known field/,
  },
  { name: 'config that is not an object', input: 'binds: *', path: '(config)', message: /object/ },
];

describe('validation: each rule names the field at fault', () => {
  for (const testCase of cases) {
    it(testCase.name, () => {
      const result = parseConfig(testCase.input);
      assert.equal(result.ok, false, 'should be rejected');
      if (result.ok) return;
      const issue = result.issues.find((candidate) => candidate.path === testCase.path);
      assert.ok(issue, `no issue at ${testCase.path}; got ${JSON.stringify(result.issues)}`);
      assert.match(issue.message, testCase.message);
    });
  }

  it('never echoes an inline private key in an issue', () => {
    const result = parseConfig({ starttls: true, tls: { certPem: first.certPem, keyPem: second.keyPem } });
    assert.equal(result.ok, false);
    assert.doesNotMatch(JSON.stringify(result), /PRIVATE KEY/);
  });

  it('accepts a matching inline certificate and key', () => {
    const result = parseConfig({ ssl: { enabled: true }, starttls: true, tls: first });
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
    assert.deepEqual(result.config.tls, { ...first, minVersion: 'TLSv1.2' });
  });

  it('accepts no plain listener at all (POP3S only, as RFC 8314 recommends)', () => {
    const result = parseConfig({ binds: [], ssl: { enabled: true }, tls: { certFile: '/c', keyFile: '/k' } });
    assert.ok(result.ok);
    assert.deepEqual(result.config.binds, []);
  });

  it('reports every problem in one pass: bind conflicts beside errors in other fields', () => {
    const result = parseConfig({
      binds: '127.0.0.1 110, 127.0.0.1 110, 127.0.0.2',
      port: 70000,
      ssl: { enabled: true, binds: '127.0.0.1 110, 127.0.0.3 1995' },
      permit: ['300.*'],
      starttls: 'yes',
    });
    assert.equal(result.ok, false);
    if (result.ok) return;
    const paths = result.issues.map((issue) => issue.path).sort();
    // binds[2] has no port of its own and `port` is invalid: it is compared with nothing, and not blamed.
    assert.deepEqual(paths, ['binds[1]', 'permit[0]', 'port', 'ssl.binds[0]', 'starttls', 'tls']);
  });

  it('allows a plain and an SSL bind on one address and port while SSL is disabled', () => {
    const result = parseConfig({ binds: '127.0.0.1 2000', ssl: { binds: '127.0.0.1 2000' } });
    assert.ok(result.ok);
  });
});
