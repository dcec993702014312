/**
 * Runs the expensive password checks (SHA-crypt: 5000 rounds cost ~10 ms of
 * CPU; bcrypt cost 5: ~50 ms; Argon2id m=64 MiB, t=3: ~1.3 s in hash-wasm) on
 * worker threads, as Dovecot runs them in its auth worker processes: the
 * event loop that streams messages to other sessions never waits for a hash.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { WorkerClient } from '../threads/worker-rpc';
import { type CryptJob, runCryptJob } from './crypt-jobs';
import type { CryptRequest } from './crypt-worker';

/** Runs a password check (crypt-jobs.ts), somewhere. */
export interface CryptRunner {
  run(job: CryptJob, password: Buffer): Promise<boolean>;
}

/** Runs on the calling thread (tools, tests, or where workers cannot start). */
export const inlineCrypt: CryptRunner = { run: runCryptJob };

/** Worker threads used by default: one per core but one, at least 1, at most 4. */
function defaultCryptWorkers(): number {
  return Math.max(1, Math.min(4, os.availableParallelism() - 1));
}

/** The worker failed or exited while computing a hash. */
class CryptWorkerError extends Error {
  readonly code = 'CRYPT_WORKER_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'CryptWorkerError';
  }
}

const WORKER_FILE = path.join(__dirname, 'crypt-worker.js');

type CryptWorker = WorkerClient<CryptRequest, boolean>;

export class CryptPool implements CryptRunner {
  private readonly workers: CryptWorker[] = [];
  private closed = false;

  /** @param size worker threads, started on first use (see defaultCryptWorkers). */
  constructor(private readonly size = defaultCryptWorkers()) {}

  run(job: CryptJob, password: Buffer): Promise<boolean> {
    if (this.closed) return Promise.reject(new CryptWorkerError('the crypt pool is closed'));
    // A copy goes to the worker, which wipes it after use.
    return this.pick().call({ password: new Uint8Array(password), job });
  }

  /** Stops the workers; calls pending at that moment fail. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.splice(0).map((w) => w.close()));
  }

  /** The least busy worker, starting one while fewer than `size` run. */
  private pick(): CryptWorker {
    let best: CryptWorker | undefined;
    for (const w of this.workers) if (best === undefined || w.pending < best.pending) best = w;
    if (best !== undefined && (best.pending === 0 || this.workers.length >= this.size)) return best;
    const worker: CryptWorker = new WorkerClient(WORKER_FILE, {
      error: (message) => new CryptWorkerError(`crypt worker: ${message}`),
    });
    this.workers.push(worker);
    return worker;
  }
}

let shared: CryptPool | undefined;

/** The process-wide pool (created on first use). */
export function sharedCryptPool(): CryptPool {
  shared ??= new CryptPool();
  return shared;
}
