/**
 * Watching the crypt workers: the real pool, with every job it is given
 * written down, and the cost class (scheme and work factor) a job runs at.
 * Tests assert on these instead of on timings.
 */
import type { CryptJob, CryptPool, CryptRunner } from '../../src/users/index';

/** The scheme and work factor a crypt job runs at: `$6$rounds=…` / `$6$`, `$2y$05`, `$argon2id$v=19$m=…,t=…,p=…`. */
export function costOf(job: CryptJob): string {
  if (job.kind === 'sha-crypt') return /^\$[56]\$(rounds=\d+\$)?/.exec(job.hash)![0];
  if (job.kind === 'bcrypt') return job.hash.slice(0, 6);
  return /^\$argon2i?d?\$v=\d+\$m=\d+,t=\d+,p=\d+/.exec(job.hash)![0];
}

/** The real worker pool, with every job it is given written down. */
export function recording(pool: CryptPool): { runner: CryptRunner; jobs: CryptJob[] } {
  const jobs: CryptJob[] = [];
  return {
    jobs,
    runner: {
      run(job, password) {
        jobs.push(job);
        return pool.run(job, password);
      },
    },
  };
}
