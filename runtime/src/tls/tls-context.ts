/**
 * Turns the `tls` field of a configuration into a SecureContext, reading the
 * files when the certificate is given by path. Done once per apply, never per
 * handshake; listeners ask for the current context at each handshake, which
 * is how a new certificate reaches new connections without a restart.
 */
import { constants } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { checkTlsMaterial, type ConfigIssue, type TlsConfig } from '@pop3-iac/schema';
import { PemFileError, readPemFile } from './read-pem-file';

export type TlsLoadResult = { ok: true; context: SecureContext } | { ok: false; issues: ConfigIssue[] };

export async function loadTlsContext(tls: TlsConfig): Promise<TlsLoadResult> {
  let certPem: string;
  let keyPem: string;
  if ('certFile' in tls) {
    const [cert, key] = await Promise.allSettled([readPemFile(tls.certFile), readPemFile(tls.keyFile)]);
    const issues: ConfigIssue[] = [];
    if (cert.status === 'rejected') issues.push(unreadable('tls.certFile', tls.certFile, cert.reason));
    if (key.status === 'rejected') issues.push(unreadable('tls.keyFile', tls.keyFile, key.reason));
    if (cert.status === 'rejected' || key.status === 'rejected') return { ok: false, issues };
    certPem = cert.value;
    keyPem = key.value;
  } else {
    certPem = tls.certPem;
    keyPem = tls.keyPem;
  }
  const problem = checkTlsMaterial(certPem, keyPem);
  if (problem) {
    const files = 'certFile' in tls;
    const path =
      problem.field === 'cert' ? (files ? 'tls.certFile' : 'tls.certPem') : files ? 'tls.keyFile' : 'tls.keyPem';
    return { ok: false, issues: [{ path, code: 'tls_material', message: problem.message }] };
  }
  return {
    ok: true,
    // No renegotiation (TLS 1.2 and below): see established-session.ts.
    context: createSecureContext({
      cert: certPem,
      key: keyPem,
      minVersion: tls.minVersion,
      secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    }),
  };
}

function unreadable(path: string, file: string, reason: unknown): ConfigIssue {
  if (reason instanceof PemFileError) return { path, code: 'tls_file', message: `"${file}" ${reason.message}` };
  const code = (reason as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'does not exist'
      : code === 'EACCES'
        ? 'is not readable by the daemon'
        : `cannot be read (${code})`;
  return { path, code: 'tls_file', message: `"${file}" ${why}` };
}
