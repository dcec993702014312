/**
 * What the Pop3Service provider does, method by method. The serialized
 * provider object (provider.ts) only `require`s this module and delegates, so
 * none of this is captured into the stack's state.
 *
 * Values arrive from the engine as plain JSON (the dynamic-provider host
 * does not accept secrets, so the engine unwraps them and re-marks matching
 * outputs as secret). The desired configuration is always compared in the
 * redacted form (an inline key as its fingerprint), which is also the only form
 * the daemon ever shows, so the key is compared without being read back.
 */
import { isAbsolute, posix } from 'node:path';
import { log, type dynamic } from '@pulumi/pulumi';
import {
  diffConfigs,
  keyFingerprint,
  listenersOf,
  parseConfig,
  redactConfig,
  sameJson,
  type CanonicalConfig,
  type ConfigIssue,
  type Listener,
  type RedactedConfig,
} from '@pop3-iac/schema';
import { adminRequest, DaemonUnreachableError, type AdminResponse } from '@pop3-iac/runtime';
import { CONFIG_FIELDS, FIELDS, FIELD_NAMES, type ServiceField } from './fields';

/** The property the dynamic-provider host stores the serialized provider under. */
const PROVIDER_KEY = '__provider';
/** How the engine marks a value not known during preview (sdk/nodejs/runtime/rpc.ts). */
const UNKNOWN = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';
/** How the engine marks a secret when it sends one as a plain object (sdk/nodejs/runtime/rpc.ts). */
const SECRET_SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG_VALUE = '1b47061264138c4ac30d75fd1eb44270';

/** The stored outputs of a Pop3Service. */
export interface Pop3ServiceState extends RedactedConfig {
  adminSocket: string;
  listeners: Listener[];
  generation: number;
  etag: string;
}

type Props = Record<string, unknown>;

/** A provider failure an operator can act on; `code` is stable for callers and tests. */
export class Pop3ProviderError extends Error {
  constructor(
    readonly code:
      'invalid_config' | 'apply_failed' | 'changed_underneath' | 'precondition_failed' | 'daemon_error' | 'bad_state',
    message: string,
  ) {
    super(message);
    this.name = 'Pop3ProviderError';
  }
}

/**
 * The ETag each diff saw, by socket: update applies only if the daemon still
 * runs that configuration. The engine calls diff and then update in the same
 * provider process, right after each other.
 */
const diffedEtags = new Map<string, string>();

// ---------------------------------------------------------------- check

export async function check(_olds: Props, news: Props): Promise<dynamic.CheckResult> {
  const inputs = unwrapSecrets(news) as Props;
  // During preview an input may come from another resource's output: validate it when it is known.
  if (containsUnknown(inputs)) return { inputs: news };

  const failures: dynamic.CheckFailure[] = [];
  const socket = inputs.adminSocket;
  if (typeof socket !== 'string' || socket.trim() === '') {
    failures.push({
      property: 'adminSocket',
      reason: 'is required: the path of pop3d admin socket (pop3d --admin-socket; default <state-dir>/admin.sock)',
    });
  } else if (!isAbsolute(socket)) {
    failures.push({
      property: 'adminSocket',
      reason: 'must be an absolute path: the provider does not run in the directory of your program',
    });
  }
  const result = parseConfig(configInputOf(inputs));
  if (!result.ok) failures.push(...result.issues.map((issue) => checkFailure(issue, inputs)));
  if (failures.length > 0) return { failures };

  // The canonical form is what Pulumi stores as inputs, so equivalent spellings
  // are equal inputs and `pulumi preview` shows only real changes.
  const config = (result as { config: CanonicalConfig }).config;
  return { inputs: { adminSocket: posix.normalize(socket as string), ...withFingerprint(config) } };
}

/**
 * A schema issue as Pulumi's CheckFailure. The engine prints the program's
 * value of a top-level property next to the failure, secrets included, so an
 * issue about the whole `tls` object of an inline key is reported on the
 * resource instead.
 */
function checkFailure(issue: ConfigIssue, inputs: Props): dynamic.CheckFailure {
  if (issue.path === '(config)') return { property: '', reason: issue.message };
  if (issue.path === 'tls' && isRecord(inputs.tls) && 'keyPem' in inputs.tls) {
    return { property: '', reason: `tls: ${issue.message}` };
  }
  return { property: issue.path, reason: issue.message };
}

// ---------------------------------------------------------------- diff

export async function diff(id: string, olds: Props, news: Props): Promise<dynamic.DiffResult> {
  const socket = socketOf(olds, id);
  if (containsUnknown(news)) {
    const replaces = news.adminSocket === UNKNOWN || news.adminSocket !== socket ? ['adminSocket'] : [];
    return { changes: true, replaces, deleteBeforeReplace: replaces.length > 0 };
  }
  const wanted: Props = { adminSocket: socketOf(news, id), ...desiredView(news) };

  let current: Props;
  try {
    const live = await getConfig(socket);
    diffedEtags.set(socket, live.etag);
    warnAboutDrift(socket, olds, live.config);
    current = { adminSocket: socket, ...live.config };
  } catch (error) {
    if (!(error instanceof DaemonUnreachableError)) throw error;
    await warn(`${error.message}; comparing with the configuration Pulumi recorded instead of the live one`);
    current = olds;
  }

  const changed = FIELD_NAMES.filter((field) => !sameJson(wanted[field], current[field]));
  const replaces = changed.filter((field) => FIELDS[field].effect === 'replace');
  return {
    changes: changed.length > 0,
    replaces,
    stables: FIELD_NAMES.filter((field) => !changed.includes(field)),
    // Two daemons cannot both hold the same ports, and two paths may name one
    // daemon: clear the old one before configuring the new one.
    deleteBeforeReplace: replaces.length > 0,
  };
}

/**
 * Drift is invisible in Pulumi's display (a dynamic provider cannot send a
 * per-property diff, and the program's inputs did not change), so name it.
 */
function warnAboutDrift(socket: string, olds: Props, live: RedactedConfig): void {
  if (!CONFIG_FIELDS.some((field) => field in olds)) return;
  const drift = diffConfigs(pickConfig(olds), live);
  if (drift.length === 0) return;
  const lines = drift.map(
    (change) => `  ${change.path}: ${show(change.before)} (recorded) -> ${show(change.after)} (live)`,
  );
  void warn(
    `pop3d at ${socket} was changed outside Pulumi since the last update:\n${lines.join('\n')}\n` +
      'the diff compares the program with the live configuration',
  );
}

// ---------------------------------------------------------------- create, update, read, delete

export async function create(inputs: Props): Promise<dynamic.CreateResult<Pop3ServiceState>> {
  const socket = socketOf(inputs, '');
  const config = desiredConfig(inputs);
  const live = await getConfig(socket);
  return { id: socket, outs: await applyConfig(socket, config, live.etag) };
}

export async function update(id: string, olds: Props, news: Props): Promise<dynamic.UpdateResult<Pop3ServiceState>> {
  const socket = socketOf(olds, id);
  const config = desiredConfig(news);
  const live = await getConfig(socket);
  const diffed = diffedEtags.get(socket);
  diffedEtags.delete(socket);
  const unchanged = diffed !== undefined ? diffed === live.etag : sameJson(pickConfig(olds), live.config);
  if (!unchanged) {
    throw new Pop3ProviderError(
      'changed_underneath',
      `the configuration of pop3d at ${socket} changed underneath Pulumi after the diff (now ETag ${live.etag}); ` +
        'nothing was applied: run pulumi refresh or pulumi preview again',
    );
  }
  // update always returns every output: without them the state would shrink to the serialized provider.
  return { outs: await applyConfig(socket, config, live.etag) };
}

export async function read(id: string, props: Props = {}): Promise<dynamic.ReadResult> {
  const socket = socketOf(props, id);
  const live = await getConfig(socket);
  return {
    id: socket,
    props: stateOf(socket, live),
    // The live configuration as the inputs too: after `pulumi refresh` the next
    // preview shows the program against what actually runs.
    inputs: { adminSocket: socket, ...live.config },
  };
}

/** What delete leaves running: the daemon, with no POP3 listener. */
export const EMPTY_CONFIG = { binds: [], ssl: { enabled: false } } as const;

export async function remove(id: string, props: Props = {}): Promise<void> {
  const socket = socketOf(props, id);
  let live: LiveConfig;
  try {
    live = await getConfig(socket);
  } catch (error) {
    // Already gone is success; a daemon that refuses us is not gone.
    if (error instanceof DaemonUnreachableError && error.gone) return;
    throw error;
  }
  await applyConfig(socket, parseConfigOrThrow(EMPTY_CONFIG), live.etag);
}

// ---------------------------------------------------------------- talking to the daemon

interface LiveConfig {
  config: RedactedConfig;
  etag: string;
  generation: number;
}

async function getConfig(socket: string): Promise<LiveConfig> {
  const response = await adminRequest(socket, 'GET', '/v1/config');
  if (response.status !== 200) throw daemonError(response, socket);
  const etag = header(response, 'etag');
  if (etag === undefined)
    throw new Pop3ProviderError('daemon_error', `pop3d at ${socket} sent its configuration without an ETag`);
  return {
    config: response.body as RedactedConfig,
    etag,
    generation: Number(header(response, 'x-config-generation') ?? 0),
  };
}

/** PUT the configuration if the daemon still runs `ifMatch`; the new state, or an error naming the field at fault. */
export async function applyConfig(socket: string, config: CanonicalConfig, ifMatch: string): Promise<Pop3ServiceState> {
  const response = await adminRequest(socket, 'PUT', '/v1/config', config, { 'If-Match': ifMatch });
  if (response.status !== 200) throw daemonError(response, socket);
  const body = response.body as { config: RedactedConfig; etag: string; generation: number };
  return stateOf(socket, body);
}

function stateOf(socket: string, view: LiveConfig): Pop3ServiceState {
  return {
    adminSocket: socket,
    ...view.config,
    listeners: listenersOf(view.config),
    generation: view.generation,
    etag: view.etag,
  };
}

interface ErrorBody {
  code?: string;
  message?: string;
  issues?: ConfigIssue[];
  bind?: { address: string; port: number; tls: boolean };
  field?: string;
  osCode?: string;
}

/** An admin API error (runtime/src/admin/errors.ts) as a message that names the field at fault. */
function daemonError(response: AdminResponse, socket: string): Pop3ProviderError {
  const body: ErrorBody = isRecord(response.body) ? (response.body as ErrorBody) : {};
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
      const where = bind ? `"${bind.address.includes(':') ? `[${bind.address}]` : bind.address} ${bind.port}": ` : '';
      const said = (body.message ?? 'the listener could not be opened').replace(/\.?$/, '');
      const os = body.osCode && !said.includes(body.osCode) ? ` (${body.osCode})` : '';
      return new Pop3ProviderError(
        'apply_failed',
        `${body.field ?? 'binds'}: ${where}${said}${os}. pop3d at ${socket} keeps serving its previous configuration.`,
      );
    }
    case 'precondition_failed':
      return new Pop3ProviderError(
        'precondition_failed',
        `the daemon's configuration changed while Pulumi was applying (pop3d at ${socket}); ` +
          'nothing was applied: run pulumi refresh or pulumi preview again',
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

function header(response: AdminResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

// ---------------------------------------------------------------- inputs and outputs

function socketOf(props: Props, fallback: string): string {
  const socket = props.adminSocket;
  if (typeof socket === 'string' && socket !== '') return socket;
  if (fallback !== '') return fallback;
  throw new Pop3ProviderError('bad_state', 'adminSocket is missing: the resource has no daemon to talk to');
}

/** The schema's input from a resource's inputs: everything but adminSocket and the serialized provider. */
export function configInputOf(inputs: Props): Props {
  const config: Props = {};
  for (const [key, value] of Object.entries(inputs)) {
    if (key === 'adminSocket' || key === PROVIDER_KEY || value === undefined) continue;
    config[key] = value;
  }
  // check stores an inline key's fingerprint beside it (withFingerprint); it is not a schema field.
  if (isRecord(config.tls) && 'keyPem' in config.tls && 'keyFingerprint' in config.tls) {
    const { keyFingerprint: _fingerprint, ...tls } = config.tls;
    config.tls = tls;
  }
  return config;
}

/** The canonical config with an inline key's fingerprint beside the key, so that inputs recorded by read compare well. */
function withFingerprint(config: CanonicalConfig): Props {
  if (!config.tls || !('keyPem' in config.tls)) return { ...config };
  return { ...config, tls: { ...config.tls, keyFingerprint: keyFingerprint(config.tls.keyPem) } };
}

function parseConfigOrThrow(input: unknown): CanonicalConfig {
  const result = parseConfig(input);
  if (result.ok) return result.config;
  throw new Pop3ProviderError(
    'invalid_config',
    `invalid configuration:\n${result.issues.map((issue) => `  ${issue.path}: ${issue.message}`).join('\n')}`,
  );
}

/** The full configuration to PUT, inline key included. */
function desiredConfig(inputs: Props): CanonicalConfig {
  return parseConfigOrThrow(configInputOf(unwrapSecrets(inputs) as Props));
}

/** The desired configuration as the daemon would show it. */
function desiredView(inputs: Props): RedactedConfig {
  const plain = unwrapSecrets(inputs) as Props;
  // Inputs recorded by read (refresh) are the daemon's own redacted canonical
  // form: an inline key appears only as its fingerprint.
  if (isRecord(plain.tls) && 'keyFingerprint' in plain.tls && !('keyPem' in plain.tls)) {
    return pickConfig(plain) as unknown as RedactedConfig;
  }
  return redactConfig(desiredConfig(plain));
}

function pickConfig(props: Props): Props {
  const config: Props = {};
  for (const field of CONFIG_FIELDS) if (props[field] !== undefined) config[field] = props[field];
  return config;
}

function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (!isRecord(value)) return value;
  if (value[SECRET_SIG_KEY] === SECRET_SIG_VALUE) return unwrapSecrets(value.value);
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, unwrapSecrets(item)]));
}

function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (isRecord(value))
    return Object.entries(value).some(([key, item]) => key !== PROVIDER_KEY && containsUnknown(item));
  return false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value for a one-line message: redacted configs only, long values cut. */
function show(value: unknown): string {
  const text = value === undefined ? '(unset)' : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** In the dynamic-provider host this goes to stderr, which the CLI shows as a diagnostic. */
async function warn(message: string): Promise<void> {
  await log.warn(message);
}

export type { ServiceField };
