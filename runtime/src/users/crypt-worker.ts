/**
 * Worker thread body of CryptPool: runs password checks (SHA-crypt, bcrypt,
 * Argon2) off the main thread, so that a burst of logins does not stall the
 * event loop that serves every other session. One job at a time per worker
 * (serveRequests): Argon2 holds its memory (m= KiB) only while it runs.
 */
import { serveRequests } from '../threads/worker-rpc';
import { type CryptJob, runCryptJob } from './crypt-jobs';

export interface CryptRequest {
  password: Uint8Array;
  job: CryptJob;
}

serveRequests<CryptRequest, boolean>(async ({ password, job }) => {
  try {
    return await runCryptJob(job, Buffer.from(password.buffer, password.byteOffset, password.byteLength));
  } finally {
    password.fill(0);
  }
});
