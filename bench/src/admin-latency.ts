/**
 * Scenario g: admin apply latency over the three transports of
 * @pop3-iac/admin-client, against one real pop3d on loopback: its Unix
 * socket, its --admin-listen (mutual TLS 1.3, connection kept alive), and
 * SSH streamlocal forwarding through a private OpenSSH sshd (session kept).
 * Each apply is a real one (it alternates between two configurations, so a
 * listener opens or closes and the state file is fsynced each time). Rounds
 * interleave the transports so machine noise falls on all three alike.
 * Target: the mutual-TLS p50 at most 2× the socket's.
 */
import { AdminClient, type AdminTarget } from '@pop3-iac/admin-client';
import {
  adminListenArgs,
  makeAdminPki,
  freePort,
  removeDir,
  startReadyDaemon,
  removeSshd,
  startSshd,
} from '@pop3-iac/test-kit';
import { fmt, quantile } from './stats';

/** Applies per round per transport; rounds × this is the sample size. */
const ROUND = 25;

export interface AdminLatency {
  transport: 'socket' | 'mutual TLS' | 'SSH';
  p50Ms: number;
  p99Ms: number;
  applies: number;
}

export async function adminApplyLatency(applies: number, log: (line: string) => void): Promise<AdminLatency[]> {
  const pki = await makeAdminPki(['127.0.0.1']);
  const [first, second] = [await freePort(), await freePort()];
  const configs = [{ binds: `127.0.0.1 ${first}` }, { binds: `127.0.0.1 ${first}, 127.0.0.1 ${second}` }];
  const daemon = await startReadyDaemon({ config: configs[0], args: adminListenArgs(pki, '127.0.0.1:0') });
  const sshd = await startSshd();
  try {
    const ready = await daemon.waitForEvent('pop3d.ready');
    const targets: Array<[AdminLatency['transport'], AdminTarget]> = [
      ['socket', { socket: daemon.socket }],
      [
        'mutual TLS',
        {
          url: `https://${String(ready.adminListen)}`,
          caPem: pki.ca.certPem,
          certPem: pki.deployer.certPem,
          keyPem: pki.deployer.keyPem,
        },
      ],
      [
        'SSH',
        {
          ssh: {
            host: sshd.host,
            port: sshd.port,
            username: sshd.username,
            privateKey: sshd.userKey,
            hostKey: sshd.hostKey,
          },
          socket: daemon.socket,
        },
      ],
    ];
    const clients = targets.map(([name, target]) => ({
      name,
      client: new AdminClient(target),
      samples: [] as number[],
    }));
    let flip = 0;
    const applyOnce = async (client: AdminClient): Promise<number> => {
      flip ^= 1;
      const started = process.hrtime.bigint();
      const answer = await client.putConfig(configs[flip]);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (!answer.applied) throw new Error('an apply in the benchmark was a no-op');
      return ms;
    };
    // Warm-up out of the count: the first TLS handshake and SSH login, JIT.
    for (const { client } of clients) for (let i = 0; i < 10; i++) await applyOnce(client);
    const rounds = Math.max(1, Math.ceil(applies / ROUND));
    for (let round = 0; round < rounds; round++)
      for (const entry of clients) for (let i = 0; i < ROUND; i++) entry.samples.push(await applyOnce(entry.client));
    for (const { client } of clients) client.close();
    const results = clients.map(({ name, samples }) => ({
      transport: name,
      p50Ms: quantile(samples, 0.5),
      p99Ms: quantile(samples, 0.99),
      applies: samples.length,
    }));
    for (const r of results)
      log(`  g ${r.transport.padEnd(10)} ${r.applies} applies: p50 ${fmt(r.p50Ms)} ms, p99 ${fmt(r.p99Ms)} ms`);
    const ratio = results[1]!.p50Ms / results[0]!.p50Ms;
    log(`  g mutual TLS / socket p50: ${fmt(ratio, 2)}× (target ≤ 2×: ${ratio <= 2 ? 'met' : 'NOT met'})`);
    log(`  g SSH / socket p50: ${fmt(results[2]!.p50Ms / results[0]!.p50Ms, 2)}×`);
    return results;
  } finally {
    await daemon.stop();
    await removeSshd(sshd);
    await removeDir(daemon.dir);
    await removeDir(pki.dir);
  }
}
