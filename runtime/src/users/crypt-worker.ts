/**
 * Worker thread body of CryptPool: runs password checks (SHA-crypt, bcrypt,
 * Argon2) off the main thread, so that a burst of logins does not stall the
 * event loop that serves every other session.
 */
import { parentPort } from 'node:worker_threads';
import { type CryptJob, runCryptJob } from './crypt-jobs.js';

export interface CryptRequest {
  id: number;
  password: Uint8Array;
  job: CryptJob;
}

export type CryptReply = { id: number; match: boolean } | { id: number; error: string };

// One job at a time per worker: Argon2 holds its memory (m= KiB) only while it runs.
let queue: Promise<void> = Promise.resolve();

parentPort?.on('message', (m: CryptRequest) => {
  queue = queue.then(async () => {
    let reply: CryptReply;
    try {
      const password = Buffer.from(m.password.buffer, m.password.byteOffset, m.password.byteLength);
      reply = { id: m.id, match: await runCryptJob(m.job, password) };
    } catch (err) {
      reply = { id: m.id, error: err instanceof Error ? err.message : String(err) };
    }
    m.password.fill(0);
    parentPort!.postMessage(reply);
  });
});
