/**
 * Certificates for the admin listener, made with the openssl command line the
 * README's recipe uses: a deployer CA, a daemon certificate naming its
 * addresses, a deployer identity, a read-only identity from a second CA, and
 * an identity from a foreign CA the daemon does not know.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { newKeyArgs, selfSigned } from './openssl';
import { freePort, startReadyDaemon, type Daemon, type DaemonOptions } from './pop3d-process';

const run = promisify(execFile);

export interface Identity {
  cert: string;
  key: string;
  certPem: string;
  keyPem: string;
}

export interface AdminPki {
  dir: string;
  /** Issues the daemon's certificate and the deployer's (--admin-client-ca). */
  ca: Identity;
  /** Issues the read-only identity (--admin-reader-ca). */
  readerCa: Identity;
  daemon: Identity;
  deployer: Identity;
  reader: Identity;
  /** Issued by a CA the daemon was not given. */
  foreign: Identity;
}

async function load(cert: string, key: string): Promise<Identity> {
  return { cert, key, certPem: await readFile(cert, 'utf8'), keyPem: await readFile(key, 'utf8') };
}

async function makeCa(dir: string, name: string): Promise<Identity> {
  const { certFile, keyFile } = selfSigned(dir, name, `/CN=${name}/O=pop3-iac test`, [
    'basicConstraints=critical,CA:TRUE',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return load(certFile, keyFile);
}

async function issue(dir: string, ca: Identity, name: string, extensions: string): Promise<Identity> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, `basicConstraints=CA:FALSE\n${extensions}\n`);
  await run('openssl', ['req', '-new', ...newKeyArgs(key), '-out', csr, '-subj', `/CN=${name}/O=pop3-iac test`]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    // A random serial per certificate: -CAcreateserial's shared file races when several are issued at once.
    '-set_serial',
    `0x${randomBytes(12).toString('hex')}`,
    '-out',
    cert,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return load(cert, key);
}

/** A fresh set in its own directory; the daemon certificate names `addresses` (IPs) and localhost. */
export async function makeAdminPki(addresses: string[] = ['127.0.0.1']): Promise<AdminPki> {
  const dir = await mkdtemp(join(tmpdir(), 'pop3d-pki-'));
  const ca = await makeCa(dir, 'deployers-ca');
  const readerCa = await makeCa(dir, 'readers-ca');
  const foreignCa = await makeCa(dir, 'foreign-ca');
  const san = ['DNS:localhost', ...addresses.map((a) => `IP:${a}`)].join(',');
  const client = 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth';
  const [daemon, deployer, reader, foreign] = await Promise.all([
    issue(dir, ca, 'pop3d', `subjectAltName=${san}\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth`),
    issue(dir, ca, 'deployer', client),
    issue(dir, readerCa, 'drift-check', client),
    issue(dir, foreignCa, 'intruder', client),
  ]);
  return { dir, ca, readerCa, daemon, deployer, reader, foreign };
}

/** The pop3d flags that serve the admin API on `listen` with this set. */
export function adminListenArgs(pki: AdminPki, listen: string): string[] {
  return [
    '--admin-listen',
    listen,
    '--admin-tls-cert',
    pki.daemon.cert,
    '--admin-tls-key',
    pki.daemon.key,
    '--admin-client-ca',
    pki.ca.cert,
    '--admin-reader-ca',
    pki.readerCa.cert,
  ];
}

export interface AdminTlsDaemon {
  daemon: Daemon;
  adminPort: number;
  /** `https://127.0.0.1:<adminPort>`, the admin target a client gives. */
  adminUrl: string;
}

/** A ready pop3d that also serves its admin API over mutual TLS with this set, on 127.0.0.1 at a port the OS chose. */
export async function startAdminTlsDaemon(pki: AdminPki, options: DaemonOptions): Promise<AdminTlsDaemon> {
  const adminPort = await freePort();
  const args = [...adminListenArgs(pki, `127.0.0.1:${adminPort}`), ...(options.args ?? [])];
  const daemon = await startReadyDaemon({ ...options, args });
  return { daemon, adminPort, adminUrl: `https://127.0.0.1:${adminPort}` };
}
