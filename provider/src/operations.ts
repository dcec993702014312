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
import { randomUUID } from 'node:crypto';
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
import { NO_OWNER, type AdminTarget } from '@pop3-iac/admin-client';
import {
  getLive,
  putConfig,
  validateOnDaemon,
  type Applied,
  type LiveDaemon,
  type Owner,
  type OwnerTransfer,
} from './daemon';
import { Pop3ProviderError, required } from './errors';
import { isTransportError, onAdmin, requireTarget, targetFailures, targetOf, targetProps, where } from './target';
import { COMPARED_FIELDS, CONFIG_FIELDS, FIELD_NAMES, OWNER_INPUT, PREVIEW_INPUT, type ServiceField } from './fields';
import {
  createVerdict,
  describeChanges,
  isEarlierSelf,
  mayEmpty,
  unreachable,
  updateVerdict,
  type OwnerLabels,
  type OwnerName,
  type Verdict,
} from './ownership';

/** The property the dynamic-provider host stores the serialized provider under. */
const PROVIDER_KEY = '__provider';
/** How the engine marks a value not known during preview (sdk/nodejs/runtime/rpc.ts). */
const UNKNOWN = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';
/** How the engine marks a secret when it sends one as a plain object (sdk/nodejs/runtime/rpc.ts). */
const SECRET_SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG_VALUE = '1b47061264138c4ac30d75fd1eb44270';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The stored outputs of a Pop3Service. */
export interface Pop3ServiceState extends RedactedConfig {
  /** A local socket's path; a remote target is `admin` instead (a secret output). */
  adminSocket?: string;
  admin?: AdminTarget;
  listeners: Listener[];
  generation: number;
  etag: string;
  /** The daemon's identity, which is also the resource's ID. */
  instanceId: string;
  /** The owner this resource's create recorded on the daemon, claim included. */
  owner?: Owner;
}

type Props = Record<string, unknown>;

/** Where a checked resource stands with its daemon: new (a create), at another target than recorded, or the same. */
type Arrival = 'create' | 'moved' | 'known';

export { Pop3ProviderError };

/** Every key a Pop3Service's inputs may hold: the table's, the owner, the preview flag and the serialized provider. */
const KNOWN_INPUTS = new Set<string>([...FIELD_NAMES, OWNER_INPUT, PREVIEW_INPUT, PROVIDER_KEY]);

/**
 * The ETag each diff saw, by target: update applies only if the daemon still
 * runs that configuration. The engine calls diff and then update in the same
 * provider process, right after each other.
 */
const diffedEtags = new Map<string, string>();

/**
 * Whether this run is a preview, as the program's PREVIEW_INPUT last said. The
 * engine checks every resource before it diffs it, in this process, and one
 * run is all preview or all apply. Without the flag (a program built against
 * an older Pop3Service), a preview: the stricter of the two.
 */
let previewing = true;

// ---------------------------------------------------------------- check

export async function check(olds: Props, checkedNews: Props): Promise<dynamic.CheckResult> {
  const { [PREVIEW_INPUT]: preview, ...news } = checkedNews;
  if (typeof preview === 'boolean') previewing = preview;
  const inputs = unwrapSecrets(news) as Props;
  const failures: dynamic.CheckFailure[] = unknownKeys(inputs);
  if (failures.length > 0) return { failures };
  // During preview an input may come from another resource's output: validate it when it is known.
  if (containsUnknown(inputs)) return { inputs: news };

  failures.push(...targetFailures(inputs));
  if (inputs.adopt !== undefined && typeof inputs.adopt !== 'boolean')
    failures.push({ property: 'adopt', reason: 'must be true or false' });
  const labels = labelsOf(inputs);
  if (labels === undefined)
    failures.push({
      property: OWNER_INPUT,
      reason: 'is set by the Pop3Service class ({project, stack, resource}); create the resource through it',
    });
  const result = parseConfig(configInputOf(inputs));
  if (!result.ok) failures.push(...result.issues.map((issue) => checkFailure(issue, inputs)));
  if (failures.length > 0) return { failures };

  // The canonical form is what Pulumi stores as inputs, so equivalent spellings
  // are equal inputs and `pulumi preview` shows only real changes.
  const config = (result as { config: CanonicalConfig }).config;
  const target = targetOf(inputs)!;
  const owner: OwnerLabels = labels!;
  const checked: Props = {
    ...targetProps(target),
    ...withFingerprint(config),
    ...(inputs.adopt === undefined ? {} : { adopt: inputs.adopt }),
    [OWNER_INPUT]: owner,
  };
  // New on this daemon: a create, or a move to another target (which may be another daemon).
  const oldTarget = targetOf(olds);
  const arrival: Arrival = oldTarget === undefined ? 'create' : where(oldTarget) !== where(target) ? 'moved' : 'known';
  const daemonFailures = await checkOnDaemon(target, arrival, config, owner, inputs.adopt as boolean | undefined);
  return daemonFailures.length > 0 ? { failures: daemonFailures } : { inputs: checked };
}

/** Keys the resource does not take (a JavaScript program's `bindz:`): each named, with the input it may mean. */
function unknownKeys(inputs: Props): dynamic.CheckFailure[] {
  return Object.keys(inputs)
    .filter((key) => !KNOWN_INPUTS.has(key) && inputs[key] !== undefined)
    .map((key) => {
      const near = FIELD_NAMES.find((field) => editDistance(field, key) <= 2);
      return {
        property: key,
        reason: `is not an input of Pop3Service${near ? ` (did you mean ${near}?)` : ''}; inputs: ${FIELD_NAMES.join(', ')}`,
      };
    });
}

/**
 * What only the daemon can say, asked when it answers: whether certificate
 * files on its host can be used (the validate dry run), and, when the
 * resource is new on this daemon (a create, or a move to another path),
 * whether it may take the daemon over. A daemon that does not answer fails
 * the preview of a create or a move (nothing could be applied there); in
 * `pulumi up` a create there fails on its own, and a known daemon is left
 * to diff.
 */
async function checkOnDaemon(
  target: AdminTarget,
  arrival: Arrival,
  config: CanonicalConfig,
  labels: OwnerLabels,
  adopt: boolean | undefined,
): Promise<dynamic.CheckFailure[]> {
  let live: LiveDaemon;
  try {
    live = await getLive(target);
  } catch (error) {
    if (!isTransportError(error)) throw error;
    // A check failure ends the whole run: in `pulumi up` a create there fails its own step instead.
    if (arrival === 'known' || (arrival === 'create' && !previewing)) return [];
    const reason = `${error.message}; nothing can be applied there: start pop3d, or correct the target`;
    return ['ssh' in target || 'url' in target ? onAdmin(reason) : { property: 'adminSocket', reason }];
  }
  if (config.tls && 'certFile' in config.tls) {
    const issues = await validateOnDaemon(target, config);
    if (issues.length > 0)
      return issues.map((issue) => ({ property: issue.path, reason: `on the daemon host: ${issue.message}` }));
  }
  if (arrival === 'known') return [];
  try {
    const verdict = createVerdict(where(target), live, labels, adopt, redactConfig(config));
    if (verdict.warning) await warn(verdict.warning);
  } catch (error) {
    if (error instanceof Pop3ProviderError) return [{ property: '', reason: error.message }];
    throw error;
  }
  return [];
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
  const oldTarget = targetOf(olds) ?? { socket: id };
  const oldSocket = where(oldTarget);
  if (containsUnknown(news)) {
    const known = containsUnknown(news.admin) || news.adminSocket === UNKNOWN ? undefined : targetOf(news);
    const replaces = known === undefined || where(known) !== oldSocket ? [identityField(news)] : [];
    return { changes: true, replaces, deleteBeforeReplace: false };
  }
  const target = targetOf(news) ?? oldTarget;
  const socket = where(target);
  const labels = labelsOf(news) ?? labelsOf(olds);
  let live: LiveDaemon;
  try {
    live = await getLive(target);
  } catch (error) {
    if (!isTransportError(error)) throw error;
    if (socket === oldSocket) {
      // A diff failure ends the whole run. A preview fails naming the host; `pulumi up` plans an update whose
      // step fails naming it (update below), and the engine goes on with the other hosts.
      if (previewing) throw unreachable(error, labels, 'the diff');
      return { changes: true, replaces: [], deleteBeforeReplace: false };
    }
    throw new Pop3ProviderError(
      'daemon_unreachable',
      `${error.message}; ${identityField(news)} changed from ${oldSocket} to ${socket}: correct the ` +
        `${identityField(news) === 'adminSocket' ? 'path' : 'target'}, or start pop3d ` +
        'there; nothing was changed and the old daemon keeps serving',
    );
  }

  // The resource is the daemon (its instanceId), not the path it is reached at.
  if (!(await sameDaemon(olds, oldTarget, target, live))) {
    // Another daemon: create there first, then empty the old one (its delete
    // checks its claim, so it never empties what the new half applied).
    return { changes: true, replaces: [identityField(news)], deleteBeforeReplace: false };
  }
  // A daemon another resource took over: say so now rather than at update.
  const owner = live.owner;
  if (owner !== null && labels !== undefined && news.adopt !== true) {
    const claim = claimOf(olds);
    if (owner.claim !== claim && !isEarlierSelf(owner, labels)) updateVerdict(socket, live, labels, false, claim);
  }

  diffedEtags.set(socket, live.etag);
  warnAboutDrift(socket, olds, live.config);
  const wanted: Props = { ...targetProps(target), ...desiredView(news) };
  const current: Props = { ...targetProps(oldTarget), ...live.config };
  const changed = COMPARED_FIELDS.filter((field) => !sameJson(wanted[field], current[field]));
  return {
    changes: changed.length > 0,
    replaces: [],
    stables: COMPARED_FIELDS.filter((field) => !changed.includes(field)),
    deleteBeforeReplace: false,
  };
}

/** The live daemon for a step that changes it: one that does not answer fails the step, naming it and the remedies. */
async function getLiveFor(target: AdminTarget, labels: OwnerLabels | undefined, step: string): Promise<LiveDaemon> {
  try {
    return await getLive(target);
  } catch (error) {
    throw isTransportError(error) ? unreachable(error, labels, step) : error;
  }
}

/** Whether the daemon answering at `target` is the one this resource configured. */
async function sameDaemon(
  olds: Props,
  oldTarget: AdminTarget,
  target: AdminTarget,
  live: LiveDaemon,
): Promise<boolean> {
  const recorded = typeof olds.instanceId === 'string' ? olds.instanceId : undefined;
  if (recorded !== undefined) return recorded === live.instanceId;
  // State from before instanceIds: the daemon at the recorded path is this resource's.
  if (where(target) === where(oldTarget)) return true;
  try {
    return (await getLive(oldTarget)).instanceId === live.instanceId;
  } catch (error) {
    if (isTransportError(error)) return false;
    throw error;
  }
}

/**
 * Drift is invisible in Pulumi's display (a dynamic provider cannot send a
 * per-property diff, and the program's inputs did not change), so name it.
 */
function warnAboutDrift(socket: string, olds: Props, live: RedactedConfig): void {
  if (!CONFIG_FIELDS.some((field) => field in olds)) return;
  const drift = diffConfigs(pickConfig(olds), live);
  if (drift.length === 0) return;
  void warn(
    `pop3d at ${socket} was changed outside Pulumi since the last update:\n${describeChanges(drift, 'recorded', 'live')}\n` +
      'the diff compares the program with the live configuration',
  );
}

// ---------------------------------------------------------------- create, update, read, delete

export async function create(inputs: Props): Promise<dynamic.CreateResult<Pop3ServiceState>> {
  const target = requireTarget(inputs);
  const socket = where(target);
  const config = desiredConfig(inputs);
  const labels = requireLabels(inputs);
  const live = await getLiveFor(target, labels, 'the create');
  const verdict = createVerdict(socket, live, labels, adoptOf(inputs), redactConfig(config));
  if (verdict.warning) await warn(verdict.warning);
  // Each create makes its own claim: the old half of a replace holds another one, so its delete changes nothing.
  const owner: Owner = ownerRecord(labels, randomUUID());
  let applied: Applied;
  try {
    applied = await applyUnder(target, config, live.etag, { owner, ifOwner: verdict.ifOwner }, true);
  } catch (error) {
    // Two creates on one daemon at once (two resources in one program): the one that lost names the winner.
    if (error instanceof Pop3ProviderError && error.code === 'precondition_failed')
      createVerdict(socket, await getLive(target), labels, adoptOf(inputs), redactConfig(config));
    throw error;
  }
  return { id: live.instanceId, outs: stateOf(target, applied, owner) };
}

export async function update(id: string, olds: Props, news: Props): Promise<dynamic.UpdateResult<Pop3ServiceState>> {
  // The same daemon may now be reached another way (diff checked its instanceId).
  const target = targetOf(news) ?? targetOf(olds) ?? { socket: id };
  const socket = where(target);
  const config = desiredConfig(news);
  const labels = requireLabels(news);
  const live = await getLiveFor(target, labels, 'the update');
  const recorded = typeof olds.instanceId === 'string' ? olds.instanceId : undefined;
  if (recorded !== undefined && recorded !== live.instanceId)
    throw new Pop3ProviderError(
      'another_daemon',
      `pop3d at ${socket} is another daemon (instanceId ${live.instanceId}) than this resource's (${recorded}); ` +
        'nothing was applied: run pulumi preview again',
    );
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
  const claim = claimOf(olds);
  const verdict: Verdict = updateVerdict(socket, live, labels, adoptOf(news), claim);
  if (verdict.warning) await warn(verdict.warning);
  // State from before owners gets its claim now.
  const owner: Owner = ownerRecord(labels, claim ?? randomUUID());
  const applied = await applyUnder(target, config, live.etag, { owner, ifOwner: verdict.ifOwner }, false);
  // update always returns every output: without them the state would shrink to the serialized provider.
  return { outs: stateOf(target, applied, owner) };
}

export async function read(id: string, props: Props = {}): Promise<dynamic.ReadResult> {
  const target = targetOf(props) ?? { socket: id };
  const socket = where(target);
  const live = await getLive(target);
  // An ID that is an instanceId names the daemon (opts.id): another one at the path is not it.
  if (UUID.test(id) && id !== live.instanceId)
    throw new Pop3ProviderError(
      'another_daemon',
      `pop3d at ${socket} is instance ${live.instanceId}, not ${id}: is admin (or adminSocket) that daemon's?`,
    );
  const owner =
    isRecord(props.owner) && typeof props.owner.claim === 'string' ? (props.owner as unknown as Owner) : undefined;
  if (owner !== undefined && !mayEmpty(live, owner.claim) && live.owner !== null)
    await warn(
      `pop3d at ${socket} is owned by another resource now: ${live.owner.project}/${live.owner.stack}/${live.owner.resource}`,
    );
  const labels = labelsOf(props);
  return {
    id,
    props: stateOf(target, live, owner),
    // The live configuration as the inputs too: after `pulumi refresh` the next
    // preview shows the program against what actually runs. The owner's names
    // and adopt are the resource's, not the daemon's: kept.
    inputs: {
      ...targetProps(target),
      ...live.config,
      ...(labels === undefined ? {} : { [OWNER_INPUT]: labels }),
      ...(props.adopt === undefined ? {} : { adopt: props.adopt }),
    },
  };
}

/** What delete leaves running: the daemon, with no POP3 listener. */
export const EMPTY_CONFIG = { binds: [], ssl: { enabled: false } } as const;

export async function remove(id: string, props: Props = {}): Promise<void> {
  const target = targetOf(props) ?? { socket: id };
  const socket = where(target);
  const labels = labelsOf(props);
  // A daemon that does not answer is not "already gone": it may come back serving its persisted configuration.
  const live = await getLiveFor(target, labels, 'the delete');
  const recorded = typeof props.instanceId === 'string' ? props.instanceId : undefined;
  if (recorded !== undefined && recorded !== live.instanceId) {
    await log.info(
      `another pop3d (instance ${live.instanceId}) answers at ${socket}; this resource's is gone: nothing to delete`,
    );
    return;
  }
  const claim = claimOf(props);
  if (!mayEmpty(live, claim)) {
    const owner = live.owner;
    const message =
      owner === null
        ? `nobody owns the configuration of pop3d at ${socket} (pop3ctl apply --take-over?): the delete changes nothing`
        : `pop3d at ${socket} is owned by ${owner.project}/${owner.stack}/${owner.resource}, not by this resource's create: ` +
          'the delete changes nothing';
    // The old half of a replace meets its new half: expected, not worth a warning.
    if (owner !== null && labels !== undefined && isEarlierSelf(owner, labels)) await log.info(message);
    else await warn(message);
    return;
  }
  await applyUnder(
    target,
    parseConfigOrThrow(EMPTY_CONFIG),
    live.etag,
    { owner: null, ifOwner: claim ?? NO_OWNER },
    false,
  );
}

// ---------------------------------------------------------------- applying

/** PUT under an owner; a create says what a failed bind means for the old half of a replace. */
async function applyUnder(
  target: AdminTarget,
  config: CanonicalConfig,
  etag: string,
  transfer: OwnerTransfer,
  creating: boolean,
): Promise<Applied> {
  try {
    return await putConfig(target, config, etag, transfer);
  } catch (error) {
    if (
      creating &&
      error instanceof Pop3ProviderError &&
      error.code === 'apply_failed' &&
      /EADDRINUSE/.test(error.message)
    )
      throw new Pop3ProviderError(
        'apply_failed',
        `${error.message} If this create is the new half of a replace, the old daemon was not touched and keeps ` +
          'serving: two daemons on one host cannot hold one port at once; give the new daemon other ports, or ' +
          'empty the old one first (pulumi destroy, or pop3ctl apply there), then run pulumi up again.',
      );
    throw error;
  }
}

/** PUT the configuration under the daemon's current ETag and owner (tests use it for the 412 path). */
export async function applyConfig(target: AdminTarget, config: CanonicalConfig, ifMatch: string): Promise<Applied> {
  return putConfig(target, config, ifMatch, { owner: null, ifOwner: NO_OWNER });
}

function stateOf(
  target: AdminTarget,
  view: { config: RedactedConfig; etag: string; generation: number; instanceId: string },
  owner: Owner | undefined,
): Pop3ServiceState {
  return {
    ...targetProps(target),
    ...view.config,
    listeners: listenersOf(view.config),
    generation: view.generation,
    etag: view.etag,
    instanceId: view.instanceId,
    ...(owner === undefined ? {} : { owner }),
  };
}

// ---------------------------------------------------------------- inputs and outputs

/** The input a replace names: the one the program used to say which daemon. */
function identityField(news: Props): string {
  return news.admin !== undefined ? 'admin' : 'adminSocket';
}

/** The schema's input from a resource's inputs: everything but adminSocket and the serialized provider. */
function configInputOf(inputs: Props): Props {
  const config: Props = {};
  for (const [key, value] of Object.entries(inputs)) {
    if (
      key === 'adminSocket' ||
      key === 'admin' ||
      key === 'adopt' ||
      key === OWNER_INPUT ||
      key === PROVIDER_KEY ||
      value === undefined
    )
      continue;
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

/** The owner's names in a resource's inputs or outputs (outputs also hold the claim). */
function labelsOf(props: Props): OwnerLabels | undefined {
  const owner = props[OWNER_INPUT];
  if (!isRecord(owner)) return undefined;
  const { project, stack, resource, aliases } = owner;
  if (typeof project !== 'string' || typeof stack !== 'string' || typeof resource !== 'string') return undefined;
  const former = Array.isArray(aliases) ? aliases.filter(isName) : [];
  return {
    project,
    stack,
    resource,
    ...(former.length > 0 ? { aliases: former } : {}),
  };
}

function isName(value: unknown): value is OwnerName {
  return (
    isRecord(value) &&
    typeof value.project === 'string' &&
    typeof value.stack === 'string' &&
    typeof value.resource === 'string'
  );
}

/** What the daemon records: the names and the claim (the aliases are for this provider only). */
function ownerRecord(labels: OwnerLabels, claim: string): Owner {
  const { aliases: _aliases, ...names } = labels;
  return { ...names, claim };
}

function requireLabels(inputs: Props): OwnerLabels {
  return required(labelsOf(inputs), 'the owner input is missing: create the resource through the Pop3Service class');
}

/** The claim this resource's create recorded (absent in state from before owners). */
function claimOf(props: Props): string | undefined {
  const owner = props[OWNER_INPUT];
  return isRecord(owner) && typeof owner.claim === 'string' ? owner.claim : undefined;
}

function adoptOf(props: Props): boolean | undefined {
  return typeof props.adopt === 'boolean' ? props.adopt : undefined;
}

/** Levenshtein distance, for "did you mean" on a mistyped input name. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const next = [i];
    for (let j = 1; j <= b.length; j += 1)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
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

/** In the dynamic-provider host this goes to stderr, which the CLI shows as a diagnostic. */
async function warn(message: string): Promise<void> {
  await log.warn(message);
}

export type { ServiceField };
