/**
 * Checks that a certificate and a private key are usable together, and
 * fingerprints keys so that a key can be compared and shown without being
 * revealed. Used by the schema for inline PEM and by the daemon for files.
 */
import { X509Certificate, createHash, createPrivateKey, type KeyObject } from 'node:crypto';

export type TlsMaterialProblem = { field: 'cert' | 'key'; message: string };

/** Returns what is wrong with the pair, or undefined when the key matches the certificate. */
export function checkTlsMaterial(certPem: string, keyPem: string): TlsMaterialProblem | undefined {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch {
    return { field: 'cert', message: 'is not a PEM-encoded X.509 certificate' };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return { field: 'key', message: 'is not a PEM-encoded private key (an encrypted key cannot be used unattended)' };
  }
  if (!certificate.checkPrivateKey(key)) {
    return { field: 'key', message: 'does not match the certificate (its public key differs)' };
  }
  return undefined;
}

/** `sha256:<hex>` of the key's PKCS#8 DER encoding: the same key gives the same fingerprint in any PEM spelling. */
export function keyFingerprint(keyPem: string): string {
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}
