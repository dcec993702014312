/**
 * Test certificates: a fresh self-signed pair in its own temp directory,
 * naming localhost, 127.0.0.1 and ::1 so a client can verify it
 * (`--cacert`) as well as ignore it.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSigned } from './openssl';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

export function makeCertificate(commonName = 'localhost'): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'pop3d-cert-'));
  const { certFile, keyFile } = selfSigned(dir, 'pop3d', `/CN=${commonName}`, [
    'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
  ]);
  return { certFile, keyFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}
