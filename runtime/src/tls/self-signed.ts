/**
 * A self-signed certificate for the demo and the tests, made by the openssl
 * CLI (Node has no certificate generator; openssl is on every Debian system).
 * Valid for localhost, 127.0.0.1 and ::1, so clients can verify it with
 * `--cacert` instead of turning verification off.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GeneratedCertificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

export function generateSelfSignedCertificate(
  dir: string,
  { commonName = 'localhost', days = 365, name = '' }: { commonName?: string; days?: number; name?: string } = {},
): GeneratedCertificate {
  const certFile = join(dir, `${name}cert.pem`);
  const keyFile = join(dir, `${name}key.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      String(days),
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}
