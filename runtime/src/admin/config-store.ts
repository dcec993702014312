/**
 * The applied configuration on disk, so a restarted daemon comes back with
 * what was last applied. Written atomically: a temp file in the same
 * directory, fsync, rename over the old file, fsync of the directory. A crash
 * at any moment leaves either the old file or the new one, never a torn one.
 * Mode 0600: the file may hold an inline private key.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { CanonicalConfig } from '@pop3-iac/schema';
import type { Owner } from './owner';

export const PERSISTED_CONFIG_FILE = 'config.json';
/** What save() writes before the rename: `.config.json.<12 hex>.tmp`. */
const TEMP_FILE = /^\.config\.json\.[0-9a-f]{12}\.tmp$/;

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
    await this.removeInterruptedSaves();
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

  private async removeInterruptedSaves(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.stateDir);
    } catch {
      return;
    }
    for (const name of names) if (TEMP_FILE.test(name)) await unlink(join(this.stateDir, name)).catch(() => undefined);
  }

  async save(record: PersistedConfig): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    const temp = join(this.stateDir, `.${PERSISTED_CONFIG_FILE}.${randomBytes(6).toString('hex')}.tmp`);
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(`${JSON.stringify(record, null, 2)}\n`);
      await file.sync();
    } catch (error) {
      await file.close();
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    await file.close();
    try {
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    const dir = await open(this.stateDir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
