/**
 * Runs the expensive password checks (SHA-crypt: 5000 rounds cost ~10 ms of
 * CPU; bcrypt cost 5: ~50 ms; Argon2id m=64 MiB, t=3: ~1.3 s in hash-wasm) on
 * worker threads, as Dovecot runs them in its auth worker processes: the
 * event loop that streams messages to other sessions never waits for a hash.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { type CryptJob, runCryptJob } from './crypt-jobs.js';
import type { CryptReply, CryptRequest } from './crypt-worker.js';

/** Runs a password check (crypt-jobs.ts), somewhere. */
export interface CryptRunner {
  run(job: CryptJob, password: Buffer): Promise<boolean>;
}

/** Runs on the calling thread (tools, tests, or where workers cannot start). */
export const inlineCrypt: CryptRunner = { run: runCryptJob };

/** Worker threads used by default: one per core but one, at least 1, at most 4. */
export function defaultCryptWorkers(): number {
  return Math.max(1, Math.min(4, os.availableParallelism() - 1));
}

/** The worker failed or exited while computing a hash. */
export class CryptWorkerError extends Error {
  readonly code = 'CRYPT_WORKER_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'CryptWorkerError';
  }
}

interface Pending {
  resolve(match: boolean): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

const WORKER_FILE = path.join(__dirname, 'crypt-worker.js');

export class CryptPool implements CryptRunner {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  /** @param size worker threads, started on first use (see defaultCryptWorkers). */
  constructor(private readonly size = defaultCryptWorkers()) {}

  run(job: CryptJob, password: Buffer): Promise<boolean> {
    if (this.closed) return Promise.reject(new CryptWorkerError('the crypt pool is closed'));
    const slot = this.pick();
    const id = this.nextId++;
    return new Promise<boolean>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      // A copy goes to the worker, which wipes it after use.
      const request: CryptRequest = { id, password: new Uint8Array(password), job };
      slot.worker.postMessage(request);
      slot.worker.ref();
    });
  }

  /** Stops the workers; calls pending at that moment fail. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** The least busy worker, starting one while fewer than `size` run. */
  private pick(): Slot {
    let best: Slot | undefined;
    for (const s of this.slots) if (best === undefined || s.pending.size < best.pending.size) best = s;
    if (best !== undefined && (best.pending.size === 0 || this.slots.length >= this.size)) return best;
    return this.spawn();
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_FILE);
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    const failAll = (message: string): void => {
      const i = this.slots.indexOf(slot);
      if (i !== -1) this.slots.splice(i, 1);
      for (const p of slot.pending.values()) p.reject(new CryptWorkerError(message));
      slot.pending.clear();
    };
    worker.on('message', (reply: CryptReply) => {
      const p = slot.pending.get(reply.id);
      if (p === undefined) return;
      slot.pending.delete(reply.id);
      // Idle workers must not keep the process alive.
      if (slot.pending.size === 0) worker.unref();
      if ('match' in reply) p.resolve(reply.match);
      else p.reject(new CryptWorkerError(reply.error));
    });
    worker.on('error', (err) => failAll(`crypt worker failed: ${err.message}`));
    worker.on('exit', (code) => failAll(`crypt worker exited with code ${code}`));
    this.slots.push(slot);
    return slot;
  }
}

let shared: CryptPool | undefined;

/** The process-wide pool (created on first use). */
export function sharedCryptPool(): CryptPool {
  shared ??= new CryptPool();
  return shared;
}
