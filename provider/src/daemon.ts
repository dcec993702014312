/**
 * Talking to one pop3d through its admin API (a local socket, mutual TLS, or
 * its socket through SSH; @pop3-iac/admin-client): what it runs (configuration,
 * ETag, owner, identity, in one GET), applying a configuration under an
 * owner, the dry run, and the daemon's errors as messages that name the
 * field at fault.
 */
import {
  AdminClient,
  IF_OWNER_HEADER,
  INSTANCE_ID_HEADER,
  OWNER_HEADER,
  ownerChangeOf,
  ownerHeaderValue,
  type AdminResponse,
  type AdminTarget,
  type Owner,
} from '@pop3-iac/admin-client';
import type { CanonicalConfig, ConfigIssue, RedactedConfig } from '@pop3-iac/schema';
import { Pop3ProviderError } from './errors';
import { where } from './target';

export type { Owner };

/** What one GET /v1/config tells about a daemon. */
export interface LiveDaemon {
  config: RedactedConfig;
  etag: string;
  generation: number;
  /** Who applied the configuration, or null when nobody owns it. */
  owner: Owner | null;
  /** The daemon's identity, kept in its state directory. */
  instanceId: string;
}

/**
 * One request with a client of its own: an SSH or TLS connection is not kept
 * between the provider's steps, so nothing holds the provider process open.
 */
async function request(
  target: AdminTarget,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<AdminResponse> {
  const client = new AdminClient(target);
  try {
    return await client.request(method, path, body, headers);
  } finally {
    client.close();
  }
}

export async function getLive(target: AdminTarget): Promise<LiveDaemon> {
  const socket = where(target);
  const response = await request(target, 'GET', '/v1/config');
  if (response.status !== 200) throw daemonError(response, socket);
  const etag = header(response, 'etag');
  const instanceId = header(response, INSTANCE_ID_HEADER.toLowerCase());
  if (etag === undefined || instanceId === undefined)
    throw new Pop3ProviderError(
      'daemon_error',
      `pop3d at ${socket} sent its configuration without an ETag or ${INSTANCE_ID_HEADER}: is it an older pop3d?`,
    );
  return {
    config: response.body as RedactedConfig,
    etag,
    generation: Number(header(response, 'x-config-generation') ?? 0),
    owner: ownerOf(response),
    instanceId,
  };
}

/** How an apply treats the owner: the record to leave (null: nobody), and the claim that must own it now (or `none`). */
export interface OwnerTransfer {
  owner: Owner | null;
  ifOwner: string;
}

export interface Applied {
  config: RedactedConfig;
  etag: string;
  generation: number;
  owner: Owner | null;
  instanceId: string;
}

/** PUT the configuration if the daemon still runs `ifMatch` under the expected owner; an error names the field at fault. */
export async function putConfig(
  target: AdminTarget,
  config: CanonicalConfig,
  ifMatch: string,
  transfer: OwnerTransfer,
): Promise<Applied> {
  const socket = where(target);
  const response = await request(target, 'PUT', '/v1/config', config, {
    'If-Match': ifMatch,
    [OWNER_HEADER]: ownerHeaderValue(transfer.owner),
    [IF_OWNER_HEADER]: transfer.ifOwner,
  });
  if (response.status !== 200) throw daemonError(response, socket);
  const body = response.body as { config: RedactedConfig; etag: string; generation: number; owner: Owner | null };
  return { ...body, instanceId: header(response, INSTANCE_ID_HEADER.toLowerCase()) ?? '' };
}

/** POST /v1/config/validate: the daemon's issues with the configuration (certificate files read on its host), or none. */
export async function validateOnDaemon(target: AdminTarget, config: CanonicalConfig): Promise<ConfigIssue[]> {
  const socket = where(target);
  const response = await request(target, 'POST', '/v1/config/validate', config);
  if (response.status === 200) return [];
  const body = response.body as ErrorBody;
  if (response.status === 400 && body.code === 'invalid_config') return body.issues ?? [];
  throw daemonError(response, socket);
}

interface ErrorBody {
  code?: string;
  message?: string;
  issues?: ConfigIssue[];
  bind?: { address: string; port: number; tls: boolean };
  field?: string;
  osCode?: string;
  owner?: Owner | null;
}

/** An admin API error (runtime/src/admin/errors.ts) as a message that names the field at fault. */
function daemonError(response: AdminResponse, socket: string): Pop3ProviderError {
  const body: ErrorBody =
    typeof response.body === 'object' && response.body !== null ? (response.body as ErrorBody) : {};
  switch (body.code) {
    case 'invalid_config':
      return new Pop3ProviderError(
        'invalid_config',
        `pop3d at ${socket} rejected the configuration:\n${(body.issues ?? [])
          .map((issue) => `  ${issue.path}: ${issue.message}`)
          .join('\n')}`,
      );
    case 'apply_failed': {
      // The daemon's message names the socket and the OS error; prefix the field and the bind as written in binds.
      const bind = body.bind;
      const bindText = bind
        ? `"${bind.address.includes(':') ? `[${bind.address}]` : bind.address} ${bind.port}": `
        : '';
      const said = (body.message ?? 'the listener could not be opened').replace(/\.?$/, '');
      const os = body.osCode && !said.includes(body.osCode) ? ` (${body.osCode})` : '';
      return new Pop3ProviderError(
        'apply_failed',
        `${body.field ?? 'binds'}: ${bindText}${said}${os}. pop3d at ${socket} keeps serving its previous configuration.`,
      );
    }
    case 'precondition_failed':
    case 'owner_mismatch':
      return new Pop3ProviderError(
        'precondition_failed',
        `the daemon's configuration${body.code === 'owner_mismatch' ? ' or its owner' : ''} changed while Pulumi was ` +
          `applying (pop3d at ${socket}); nothing was applied: run pulumi refresh or pulumi preview again`,
      );
    default:
      return new Pop3ProviderError(
        'daemon_error',
        `pop3d at ${socket} answered ${response.status}${body.code ? ` ${body.code}` : ''}: ${
          body.message ?? (typeof response.body === 'string' ? response.body.trim() : 'no message')
        }`,
      );
  }
}

function ownerOf(response: AdminResponse): Owner | null {
  const value = header(response, OWNER_HEADER);
  if (value === undefined) return null;
  const change = ownerChangeOf(value);
  return change.kind === 'set' ? change.owner : null;
}

function header(response: AdminResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
