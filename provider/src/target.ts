/**
 * The `admin` input (provider/README.md "Reaching the daemon: `admin`"): which daemon a
 * Pop3Service talks to and how. `adminSocket: '...'` is the shorthand of
 * `admin: { socket }`, and the form a local socket is stored in, so a stack
 * written before `admin` existed shows no diff.
 */
import { isAbsolute, posix } from 'node:path';
import { AdminTransportError, describeTarget, type AdminTarget } from '@pop3-iac/admin-client';
import type { dynamic } from '@pulumi/pulumi';
import { required } from './errors';

type Props = Record<string, unknown>;

/** The canonical target: a local socket as `{ socket }` with a normalized path, a remote one as given. */
export function targetOf(props: Props): AdminTarget | undefined {
  const admin = props.admin;
  if (isRecord(admin)) {
    if (typeof admin.url === 'string') return admin as unknown as AdminTarget;
    if (isRecord(admin.ssh) && typeof admin.socket === 'string')
      return { ssh: admin.ssh, socket: posix.normalize(admin.socket) } as unknown as AdminTarget;
    if (typeof admin.socket === 'string') return { socket: posix.normalize(admin.socket) };
  }
  if (typeof props.adminSocket === 'string' && props.adminSocket !== '')
    return { socket: posix.normalize(props.adminSocket) };
  return undefined;
}

/** The target of stored state or inputs; state without one cannot be acted on. */
export function requireTarget(props: Props): AdminTarget {
  return required(targetOf(props), 'admin (or adminSocket) is missing: the resource has no daemon to talk to');
}

/** How inputs and outputs store a target: `adminSocket` for a local socket, `admin` otherwise. */
export function targetProps(target: AdminTarget): { adminSocket: string } | { admin: AdminTarget } {
  return 'url' in target || 'ssh' in target ? { admin: target } : { adminSocket: target.socket };
}

/** The target as messages name it, and as the key that tells two targets apart. */
export const where = describeTarget;

/** Whether the error says the daemon could not be reached or trusted: its step fails naming the host. */
export function isTransportError(error: unknown): error is AdminTransportError {
  return error instanceof AdminTransportError;
}

/** The check failures of `admin` and `adminSocket`, each naming the field. */
export function targetFailures(inputs: Props): dynamic.CheckFailure[] {
  const admin = inputs.admin;
  if (admin !== undefined && inputs.adminSocket !== undefined)
    return [onAdmin('give admin or adminSocket (its shorthand), not both')];
  if (admin === undefined) {
    const socket = inputs.adminSocket;
    if (typeof socket !== 'string' || socket.trim() === '')
      return [
        {
          property: 'adminSocket',
          reason:
            'is required (or admin): the path of pop3d admin socket (pop3d --admin-socket; default <state-dir>/admin.sock)',
        },
      ];
    return absolute('adminSocket', socket);
  }
  if (!isRecord(admin)) return [onAdmin('must be { socket }, { url, caPem, certPem, keyPem } or { ssh, socket }')];
  if ('url' in admin) {
    const failures = strings(admin, ['url', 'caPem', 'certPem', 'keyPem'], 'admin');
    if (failures.length === 0 && !/^https:\/\/[^/]+:\d+\/?$/.test(admin.url as string))
      failures.push({ property: 'admin.url', reason: 'must be https://host:port (the daemon --admin-listen)' });
    return failures;
  }
  if ('ssh' in admin) {
    if (!isRecord(admin.ssh))
      return [{ property: 'admin.ssh', reason: 'must be { host, port?, username, privateKey, hostKey }' }];
    const failures = [
      ...strings(admin.ssh, ['host', 'username', 'privateKey', 'hostKey'], 'admin.ssh'),
      ...strings(admin, ['socket'], 'admin'),
    ];
    const port = admin.ssh.port;
    if (port !== undefined && (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535))
      failures.push({ property: 'admin.ssh.port', reason: 'must be an integer 1..65535 (default 22)' });
    if (failures.length === 0) failures.push(...absolute('admin.socket', admin.socket as string));
    return failures;
  }
  if (typeof admin.socket !== 'string' || admin.socket.trim() === '')
    return [{ property: 'admin.socket', reason: 'is required: the path of pop3d admin socket' }];
  return absolute('admin.socket', admin.socket);
}

/**
 * A failure of `admin` as a whole, reported on the resource: on property
 * `admin` the engine would print the whole value next to it (certificates,
 * host key; the key masked as [secret]), burying the message.
 */
export function onAdmin(reason: string): dynamic.CheckFailure {
  return { property: '', reason: `admin: ${reason}` };
}

function strings(record: Props, keys: string[], prefix: string): dynamic.CheckFailure[] {
  return keys
    .filter((key) => typeof record[key] !== 'string' || (record[key] as string).trim() === '')
    .map((key) => ({
      property: `${prefix}.${key}`,
      reason:
        key === 'hostKey'
          ? 'is required (known_hosts form): the host key is never trusted on first use'
          : 'is required',
    }));
}

function absolute(property: string, path: string): dynamic.CheckFailure[] {
  return isAbsolute(path)
    ? []
    : [{ property, reason: 'must be an absolute path: the provider does not run in the directory of your program' }];
}

function isRecord(value: unknown): value is Props {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
