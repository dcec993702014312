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

export interface ConfigView {
  config: RedactedConfig;
  etag: string;
  generation: number;
}

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
  readonly applyCounts = {
    applied: 0,
    unchanged: 0,
    invalid: 0,
    precondition_failed: 0,
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

  view(): ConfigView {
    const config = this.server.config;
    if (!config) throw new AdminError('internal', 'pop3d has no configuration yet');
    return { config: redactConfig(config), etag: this.etag, generation: this.generation };
  }

  /** The first configuration at start-up: not persisted again when it came from the state directory. */
  async start(config: CanonicalConfig, generation: number, persist: boolean): Promise<void> {
    this.generation = generation - 1;
    await this.serialized(() => this.server.metrics.timeApply(() => this.applyLocked(config, undefined, persist)));
  }

  async apply(input: unknown, ifMatch: string | undefined): Promise<ApplyOutcome> {
    return this.serialized(() =>
      this.server.metrics.timeApply(async () => {
        const config = this.validated(input);
        return this.applyLocked(config, ifMatch, true);
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
    const nextEtag = configEtag(config);
    const plan = planListeners(current ? listenersOf(current) : [], listenersOf(config));
    const changes = diffConfigs(current ? redactConfig(current) : undefined, redactConfig(config));
    if (current && nextEtag === this.etag) {
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
        await this.store.save({ generation, appliedAt: new Date().toISOString(), config });
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
    this.applyCounts.applied += 1;
    this.log.info('config.applied', {
      generation,
      opened: prepared.opened.length,
      closed: prepared.closed.length,
      changed: changes.map((c) => c.path),
    });
    return { ...this.view(), applied: true, plan, changes };
  }
}
