/**
 * Every configuration change goes through here, one at a time (a single
 * lock, as Caddy does). An apply: validate, compare with what runs (identical
 * is a no-op), check the ETag, bind new listeners, persist, then switch over
 * and close the removed listeners. Any failure before the switch leaves the
 * running configuration, its listeners and the persisted file as they were.
 */
import {
  diffConfigs,
  listenersOf,
  parseConfig,
  planListeners,
  redactConfig,
  type CanonicalConfig,
  type FieldChange,
  type ListenerPlan,
  type RedactedConfig,
} from '@pop3-iac/schema';
import type { Logger } from '../log';
import type { Pop3Server } from '../server/pop3-server';
import { loadTlsContext } from '../tls/tls-context';
import { AdminError } from './errors';
import { type ConfigStore } from './config-store';
import { configEtag, ifMatchSatisfied } from './etag';
import { describeOwner, ownerMatches, type Owner, type OwnerChange } from './owner';

export interface ConfigView {
  config: RedactedConfig;
  etag: string;
  generation: number;
  /** Who applied the configuration (owner.ts), or null when nobody owns it. */
  owner: Owner | null;
}

/** What an apply asks about the owner: the change to record, and the claim that must own it now. */
export interface OwnerRequest {
  change: OwnerChange;
  /** A claim, or `none`; undefined: no condition. */
  ifOwner?: string;
}

const KEEP_OWNER: OwnerRequest = { change: { kind: 'keep' } };

export interface ApplyOutcome extends ConfigView {
  applied: boolean;
  plan: ListenerPlan;
  changes: FieldChange[];
}

export interface ValidateOutcome {
  valid: true;
  plan: ListenerPlan;
  changes: FieldChange[];
}

export class ConfigController {
  private queue: Promise<unknown> = Promise.resolve();
  private generation = 0;
  private etag = '';
  private owner: Owner | null = null;
  readonly applyCounts = {
    applied: 0,
    unchanged: 0,
    invalid: 0,
    precondition_failed: 0,
    owner_mismatch: 0,
    apply_failed: 0,
    persist_failed: 0,
  };

  constructor(
    private readonly server: Pop3Server,
    private readonly store: ConfigStore,
    private readonly log: Logger,
  ) {}

  get currentGeneration(): number {
    return this.generation;
  }

  get currentEtag(): string {
    return this.etag;
  }

  get currentOwner(): Owner | null {
    return this.owner;
  }

  view(): ConfigView {
    const config = this.server.config;
    if (!config) throw new AdminError('internal', 'pop3d has no configuration yet');
    return { config: redactConfig(config), etag: this.etag, generation: this.generation, owner: this.owner };
  }

  /** The first configuration at start-up, with its persisted owner: not persisted again when it came from the state directory. */
  async start(
    config: CanonicalConfig,
    generation: number,
    persist: boolean,
    owner: Owner | null = null,
  ): Promise<void> {
    this.generation = generation - 1;
    this.owner = owner;
    await this.serialized(() =>
      this.server.metrics.timeApply(() => this.applyLocked(config, undefined, persist, KEEP_OWNER)),
    );
  }

  async apply(input: unknown, ifMatch: string | undefined, owner: OwnerRequest = KEEP_OWNER): Promise<ApplyOutcome> {
    return this.serialized(() =>
      this.server.metrics.timeApply(async () => {
        const config = this.validated(input);
        return this.applyLocked(config, ifMatch, true, owner);
      }),
    );
  }

  async validate(input: unknown): Promise<ValidateOutcome> {
    return this.serialized(async () => {
      const config = this.validated(input);
      await this.checkTls(config);
      const current = this.server.config;
      return {
        valid: true as const,
        plan: planListeners(current ? listenersOf(current) : [], listenersOf(config)),
        changes: diffConfigs(current ? redactConfig(current) : undefined, redactConfig(config)),
      };
    });
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private validated(input: unknown): CanonicalConfig {
    const result = parseConfig(input);
    if (!result.ok) {
      this.applyCounts.invalid += 1;
      throw new AdminError(
        'invalid_config',
        `the configuration is invalid (${result.issues.length} issue${result.issues.length === 1 ? '' : 's'})`,
        result.issues,
      );
    }
    return result.config;
  }

  private async checkTls(config: CanonicalConfig): Promise<void> {
    if (!config.tls) return;
    const loaded = await loadTlsContext(config.tls);
    if (!loaded.ok) throw new AdminError('invalid_config', 'the certificate or key cannot be used', loaded.issues);
  }

  private async applyLocked(
    config: CanonicalConfig,
    ifMatch: string | undefined,
    persist: boolean,
    ownerRequest: OwnerRequest,
  ): Promise<ApplyOutcome> {
    const current = this.server.config;
    if (ifMatch !== undefined && !ifMatchSatisfied(ifMatch, this.etag)) {
      this.applyCounts.precondition_failed += 1;
      throw new AdminError(
        'precondition_failed',
        `If-Match ${ifMatch} is stale: the configuration changed (current ETag ${this.etag}); read it again and retry`,
        undefined,
        { etag: this.etag },
      );
    }
    if (ownerRequest.ifOwner !== undefined && !ownerMatches(ownerRequest.ifOwner, this.owner)) {
      this.applyCounts.owner_mismatch += 1;
      throw new AdminError(
        'owner_mismatch',
        `the configuration is owned by ${describeOwner(this.owner)}, not by the claim the request named; nothing was changed`,
        undefined,
        { owner: this.owner },
      );
    }
    const nextOwner = ownerRequest.change.kind === 'set' ? ownerRequest.change.owner : this.owner;
    const ownerChanged = JSON.stringify(nextOwner) !== JSON.stringify(this.owner);
    const nextEtag = configEtag(config);
    const plan = planListeners(current ? listenersOf(current) : [], listenersOf(config));
    const changes = diffConfigs(current ? redactConfig(current) : undefined, redactConfig(config));
    if (current && nextEtag === this.etag) {
      // The same configuration under a new owner: only the record changes (same generation).
      if (ownerChanged) await this.persistOwner(current, nextOwner);
      this.applyCounts.unchanged += 1;
      return { ...this.view(), applied: false, plan: { open: [], close: [], keep: plan.keep }, changes: [] };
    }

    const prepared = await this.server.prepare(config);
    if (!prepared.ok) {
      if (prepared.kind === 'invalid') {
        this.applyCounts.invalid += 1;
        throw new AdminError('invalid_config', 'the certificate or key cannot be used', prepared.issues);
      }
      this.applyCounts.apply_failed += 1;
      const { listener, osCode } = prepared.error;
      this.log.warn('config.apply_failed', {
        bind: `${listener.address} ${listener.port}`,
        tls: listener.tls,
        os: osCode,
      });
      throw new AdminError('apply_failed', `${prepared.error.message}; nothing was changed`, undefined, {
        bind: { address: listener.address, port: listener.port, tls: listener.tls },
        field: listener.tls ? 'ssl.binds' : 'binds',
        osCode,
      });
    }

    const generation = this.generation + 1;
    if (persist) {
      try {
        await this.store.save({ generation, appliedAt: new Date().toISOString(), config, ...ownerField(nextOwner) });
      } catch (error) {
        await prepared.rollback();
        this.applyCounts.persist_failed += 1;
        throw new AdminError(
          'persist_failed',
          `cannot save the configuration to ${this.store.path}: ${(error as Error).message}; nothing was changed`,
        );
      }
    }
    prepared.commit();
    this.generation = generation;
    this.etag = nextEtag;
    this.owner = nextOwner;
    this.applyCounts.applied += 1;
    this.log.info('config.applied', {
      generation,
      opened: prepared.opened.length,
      closed: prepared.closed.length,
      changed: changes.map((c) => c.path),
      ...(ownerChanged ? { owner: describeOwner(nextOwner) } : {}),
    });
    return { ...this.view(), applied: true, plan, changes };
  }

  private async persistOwner(config: CanonicalConfig, owner: Owner | null): Promise<void> {
    try {
      await this.store.save({
        generation: this.generation,
        appliedAt: new Date().toISOString(),
        config,
        ...ownerField(owner),
      });
    } catch (error) {
      this.applyCounts.persist_failed += 1;
      throw new AdminError(
        'persist_failed',
        `cannot save the owner to ${this.store.path}: ${(error as Error).message}; nothing was changed`,
      );
    }
    this.owner = owner;
    this.log.info('config.owner_changed', { generation: this.generation, owner: describeOwner(owner) });
  }
}

function ownerField(owner: Owner | null): { owner?: Owner } {
  return owner === null ? {} : { owner };
}
