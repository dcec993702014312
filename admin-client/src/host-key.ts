/**
 * The SSH host keys a client accepts, from known_hosts text: bare lines
 * (`ssh-ed25519 AAAA…`) apply to any host; lines with host names (plain,
 * `[host]:port`, or hashed `|1|salt|hash` as `ssh-keygen -H` writes) only to
 * the host they name. Markers (`@revoked`, `@cert-authority`) are not
 * supported and refused, so a revocation is never silently ignored.
 */
import { createHash, createHmac } from 'node:crypto';
import { AdminTargetError } from './errors';

export interface HostKey {
  type: string;
  blob: Buffer;
}

const KEY_TYPE =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;

/** The keys `text` accepts for `host` on `port`; an error naming the line when one is malformed, or when none apply. */
export function acceptedHostKeys(text: string, host: string, port: number, where: string): HostKey[] {
  const keys: HostKey[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    if (fields[0]?.startsWith('@'))
      throw new AdminTargetError(where, `host key line ${index + 1}: ${fields[0]} entries are not supported`);
    const typeAt = KEY_TYPE.test(fields[0] ?? '') ? 0 : 1;
    const type = fields[typeAt];
    const data = fields[typeAt + 1];
    if (type === undefined || !KEY_TYPE.test(type) || data === undefined || !/^[A-Za-z0-9+/]+=*$/.test(data))
      throw new AdminTargetError(
        where,
        `host key line ${index + 1} is not in known_hosts form ('ssh-ed25519 AAAA…', as ssh-keyscan prints)`,
      );
    if (typeAt === 1 && !namesHost(fields[0]!, host, port)) return;
    keys.push({ type, blob: Buffer.from(data, 'base64') });
  });
  if (keys.length === 0)
    throw new AdminTargetError(
      where,
      `no host key given for ${host}:${port}; the host key is required (never trusted on first use)`,
    );
  return keys;
}

/** The names OpenSSH looks a host up by: `host` on port 22, `[host]:port` otherwise. */
function lookupName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function namesHost(patterns: string, host: string, port: number): boolean {
  const name = lookupName(host, port);
  return patterns.split(',').some((pattern) => {
    const hashed = /^\|1\|([^|]+)\|([^|]+)$/.exec(pattern);
    if (!hashed) return pattern === name;
    const digest = createHmac('sha1', Buffer.from(hashed[1]!, 'base64')).update(name).digest('base64');
    return digest === hashed[2];
  });
}

/** How OpenSSH shows a key: `ssh-ed25519 SHA256:<base64 without padding>`. */
export function fingerprintOf(type: string, blob: Buffer): string {
  return `${type} SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type inside a public key blob (its first SSH string). */
export function blobType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** The host key algorithms to offer so that the server shows a key of one of these types. */
export function hostKeyAlgorithms(keys: HostKey[]): string[] {
  const algorithms = new Set<string>();
  for (const { type } of keys) {
    if (type === 'ssh-rsa') for (const a of ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']) algorithms.add(a);
    else algorithms.add(type);
  }
  return [...algorithms];
}
