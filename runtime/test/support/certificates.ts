/** Test certificates: a fresh self-signed pair in its own temp directory. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSelfSignedCertificate, type GeneratedCertificate } from '../../src/tls/self-signed';

export type TestCertificate = GeneratedCertificate;

export function makeCertificate(commonName = 'localhost'): TestCertificate {
  return generateSelfSignedCertificate(mkdtempSync(join(tmpdir(), 'pop3d-cert-')), { commonName, days: 2 });
}
