/**
 * The applied configuration on disk, so a restarted daemon comes back with
 * what was last applied. Written atomically (fs/atomic-write.ts): a crash
 * leaves the old file or the new one. Mode 0600: it may hold an inline private key.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CanonicalConfig } from '@pop3-iac/schema';
import { removeInterruptedWrites, writeFileAtomic } from '../fs/atomic-write';
import type { Owner } from './owner';

const PERSISTED_CONFIG_FILE = 'config.json';

export interface PersistedConfig {
  generation: number;
  appliedAt: string;
  config: CanonicalConfig;
  /** Who applied it (owner.ts); absent in files written before owners were recorded, and when nobody owns it. */
  owner?: Owner;
}

export class ConfigStore {
  readonly path: string;

  constructor(private readonly stateDir: string) {
    this.path = join(stateDir, PERSISTED_CONFIG_FILE);
  }

  /**
   * The persisted config, or undefined when none was ever applied. A corrupt file is an error, not a silent reset.
   * Called at start-up: temp files left by a save that a crash interrupted (each may hold a copy of an
   * inline key) are removed first.
   */
  async load(): Promise<unknown> {
    await removeInterruptedWrites(this.path);
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`${this.path} is not valid JSON; move it aside to start from --config`);
    }
  }

  async save(record: PersistedConfig): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path, `${JSON.stringify(record, null, 2)}\n`);
  }
}
