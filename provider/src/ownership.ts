/**
 * Who may apply to a daemon, and what an operator is told when it may not.
 * The daemon records the owner of its configuration (runtime/src/admin/owner.ts):
 * the project, stack and resource names the Pop3Service class gives, and
 * the `claim` each create makes.
 *
 * - create: a daemon nobody owns is adopted (with a warning naming each field
 *   the program changes; `adopt: false` refuses instead); a daemon owned by an
 *   earlier creation of this resource (same names, or a name its aliases give) is taken
 *   over; one owned by another resource only with `adopt: true`.
 * - update: the daemon must still be this resource's (its claim, or its names),
 *   nobody's (taken back with a warning), or `adopt: true`.
 * - delete: only the claim that owns the configuration empties it; anyone
 *   else's delete changes nothing (the old half of a replace, a second stack).
 */
import { diffConfigs, listenersOf, type FieldChange, type RedactedConfig } from '@pop3-iac/schema';
import { describeOwner, NO_OWNER, type AdminTransportError } from '@pop3-iac/admin-client';
import type { LiveDaemon, Owner } from './daemon';
import { Pop3ProviderError } from './errors';

/** A resource's names. */
export interface OwnerName {
  project: string;
  stack: string;
  resource: string;
}

/** The owner's names as the resource's inputs hold them (no claim: each create makes its own). */
export interface OwnerLabels extends OwnerName {
  /** The names its `aliases` option says it had: what they applied is this resource's. */
  aliases?: OwnerName[];
}

/** What an apply may assume about the owner: the claim that must own the configuration now, and what to warn about. */
export interface Verdict {
  ifOwner: string;
  warning?: string;
}

/** The verdict for a create (or the new half of a replace) on this daemon; throws when it may not apply. */
export function createVerdict(
  socket: string,
  live: LiveDaemon,
  labels: OwnerLabels,
  adopt: boolean | undefined,
  desired: RedactedConfig,
): Verdict {
  const owner = live.owner;
  if (owner === null) {
    const changes = adoptionChanges(live, desired);
    if (changes.length === 0) return { ifOwner: NO_OWNER };
    const fields = describeChanges(changes, 'running', 'program');
    if (adopt === false)
      throw new Pop3ProviderError(
        'adoption_refused',
        `pop3d at ${socket} serves a configuration nobody owns, and adopt is false: nothing was changed. ` +
          `The program would change:\n${fields}\nremove adopt: false (or set it true) to take the daemon over, ` +
          'or make the program match what runs',
      );
    return {
      ifOwner: NO_OWNER,
      warning: `pop3d at ${socket} serves a configuration nobody owns; creating ${describeOwner(
        labelsAsOwner(labels),
      )} adopts it and changes:\n${fields}`,
    };
  }
  if (isEarlierSelf(owner, labels)) return { ifOwner: owner.claim };
  if (adopt === true) return { ifOwner: owner.claim, warning: takeOverWarning(socket, owner) };
  throw ownedElsewhere(socket, owner, labels, 'create');
}

/** The verdict for an update of this resource, whose create made `claim` (undefined in state from before owners). */
export function updateVerdict(
  socket: string,
  live: LiveDaemon,
  labels: OwnerLabels,
  adopt: boolean | undefined,
  claim: string | undefined,
): Verdict {
  const owner = live.owner;
  if (owner === null) {
    return {
      ifOwner: NO_OWNER,
      // State from before owners were recorded leaves a daemon nobody owns: no news.
      warning:
        claim === undefined
          ? undefined
          : `nobody owns the configuration of pop3d at ${socket} (pop3ctl apply --take-over?); this update takes it back`,
    };
  }
  if (owner.claim === claim || isEarlierSelf(owner, labels)) return { ifOwner: owner.claim };
  if (adopt === true) return { ifOwner: owner.claim, warning: takeOverWarning(socket, owner) };
  throw ownedElsewhere(socket, owner, labels, 'update');
}

/** Whether a delete by the holder of `claim` may empty the daemon (state from before owners: only when nobody owns it). */
export function mayEmpty(live: LiveDaemon, claim: string | undefined): boolean {
  return claim === undefined ? live.owner === null : live.owner?.claim === claim;
}

/** The same names (a replace, or state deleted and declared again), or a name its aliases give (a rename). */
export function isEarlierSelf(owner: Owner, labels: OwnerLabels): boolean {
  return [labels, ...(labels.aliases ?? [])].some(
    (name) => owner.project === name.project && owner.stack === name.stack && owner.resource === name.resource,
  );
}

/**
 * What adopting the daemon changes: nothing for a daemon that serves no POP3
 * (a fresh one, or one a delete emptied), else each field that differs.
 */
function adoptionChanges(live: LiveDaemon, desired: RedactedConfig): FieldChange[] {
  if (listenersOf(live.config).length === 0) return [];
  return diffConfigs(live.config, desired);
}

export function describeChanges(changes: FieldChange[], before: string, after: string): string {
  return changes
    .map((change) => `  ${change.path}: ${show(change.before)} (${before}) -> ${show(change.after)} (${after})`)
    .join('\n');
}

function takeOverWarning(socket: string, owner: Owner): string {
  return (
    `adopt: true takes pop3d at ${socket} over from ${describeOwner(owner)}; that resource's delete will change ` +
    'nothing there from now on, and its next update fails naming this resource: remove it from its program'
  );
}

function ownedElsewhere(
  socket: string,
  owner: Owner,
  labels: OwnerLabels,
  step: 'create' | 'update',
): Pop3ProviderError {
  const sameProgram = owner.project === labels.project && owner.stack === labels.stack;
  const rename = sameProgram
    ? `if this resource is "${owner.resource}" renamed, give it the option aliases: [{ name: '${owner.resource}' }]`
    : `if this resource is "${owner.resource}" moved here, give it the option aliases: [{ name: '${owner.resource}', ` +
      `project: '${owner.project}', stack: '${owner.stack}' }] or move its state`;
  return new Pop3ProviderError(
    'owned_elsewhere',
    `pop3d at ${socket} is owned by ${describeOwner(owner)} (project ${owner.project}, stack ${owner.stack}, ` +
      `resource ${owner.resource}), not by ${describeOwner(labelsAsOwner(labels))}; the ${step} changed nothing. ` +
      `Remedies: ${rename}; to import it, pulumi import cannot (dynamic providers do not support it), so declare ` +
      "the resource with adopt: true instead, which takes the daemon over (the other resource's delete then changes nothing).",
  );
}

/**
 * The failure of a step that needs the daemon's answer: never "already gone",
 * never a guess from the recorded state.
 */
export function unreachable(
  error: AdminTransportError,
  labels: OwnerLabels | undefined,
  step: string,
): Pop3ProviderError {
  const urn =
    labels === undefined
      ? '<urn>'
      : `'urn:pulumi:${labels.stack}::${labels.project}::pulumi-nodejs:dynamic/pop3:Pop3Service::${labels.resource}'`;
  return new Pop3ProviderError(
    'daemon_unreachable',
    `${error.message}. ${step} needs the daemon's answer, so nothing was changed: start pop3d and run it again, or, ` +
      `if that host is gone for good, drop the resource from the state with pulumi state delete ${urn} ` +
      '(pulumi stack --show-urns lists it)',
  );
}

function labelsAsOwner(labels: OwnerLabels): Owner {
  return { project: labels.project, stack: labels.stack, resource: labels.resource, claim: '' };
}

/** A value for a one-line message: redacted configs only, long values cut. */
function show(value: unknown): string {
  const text = value === undefined ? '(unset)' : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
