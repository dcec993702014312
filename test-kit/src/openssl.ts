/**
 * The kit's one openssl recipe: ECDSA P-256 keys, unencrypted, and
 * self-signed certificates valid for two days (a test never outlives them).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** The `openssl req` options for a new key written to `keyFile`. */
export function newKeyArgs(keyFile: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile];
}

/** `<dir>/<name>.crt` and `.key`: a self-signed certificate for `subject` with these `-addext` extensions. */
export function selfSigned(
  dir: string,
  name: string,
  subject: string,
  extensions: string[],
): { certFile: string; keyFile: string } {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const addext = extensions.flatMap((extension) => ['-addext', extension]);
  execFileSync(
    'openssl',
    ['req', '-x509', ...newKeyArgs(keyFile), '-out', certFile, '-days', '2', '-subj', subject, ...addext],
    {
      stdio: 'ignore',
    },
  );
  return { certFile, keyFile };
}
