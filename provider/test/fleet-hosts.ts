/**
 * A fleet of mail hosts on one machine, for the end-to-end fleet test: a test
 * bridge on 198.18.N.0/24 with one network namespace per host, a real pop3d in
 * each (serving alice, one message), reached over mutual TLS on its
 * --admin-listen or through a real OpenSSH sshd in its namespace. The test
 * machine gets a second address on the bridge, so that a test can be a client
 * the fleet's deny refuses while its first address is still served. Every
 * address a test dials is checked to route through the bridge first.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  adminListenArgs,
  assertRoutedVia,
  createTestNetwork,
  makeAdminPki,
  removeDir,
  removeSshd,
  startReadyDaemon,
  startSshd,
  type AdminPki,
  type Daemon,
  type DaemonOptions,
  type Identity,
  type NetnsHost,
  type Sshd,
  type TestNetwork,
} from './support';

const run = promisify(execFile);

/** The admin listener's port on every host (each namespace has its own ports). */
export const ADMIN_PORT = 7443;
/** The POP3 port every host's bind uses. */
export const POP3_PORT = 110;

export interface FleetHost {
  /** The resource name in the program, and the entry's `name` in the hosts list. */
  name: string;
  netns: string;
  address: string;
  daemon: Daemon;
  /** `https://address:7443` for a mutual-TLS host. */
  url?: string;
  /** The sshd in its namespace, for the SSH host. */
  sshd?: Sshd;
}

/** One entry of examples/fleet's `hosts` list. */
export interface HostEntry {
  name: string;
  url?: string;
  ssh?: { host: string; port?: number; username: string; hostKey: string; socket: string };
  binds: string;
}

export interface Fleet {
  network: TestNetwork;
  pki: AdminPki;
  hosts: FleetHost[];
  /** The test machine's second address on the bridge (the first is the gateway). */
  otherClient: string;
  /** The `hosts` list for the stack configuration, as examples/fleet/README.md writes it. */
  entries(): HostEntry[];
  /** Stops pop3d on a host (its state directory stays). */
  stopDaemon(host: FleetHost): Promise<void>;
  /** Starts it again on the same state directory: the same instanceId and last applied configuration. */
  startDaemon(host: FleetHost): Promise<void>;
  /** Stops everything and removes the namespaces, the bridge and every directory; safe after a failed start. */
  destroy(): Promise<void>;
}

export interface FleetOptions {
  /** How each host is reached, in order: mail1, mail2, … */
  transports: Array<'tls' | 'ssh'>;
}

const MESSAGE = 'From: bob@example.net\r\nSubject: fleet\r\n\r\nOne message on every host.\r\n';

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const network = await createTestNetwork(options.transports.length);
  const hosts: FleetHost[] = [];
  const starts = new Map<FleetHost, DaemonOptions>();
  let pki: AdminPki | undefined;
  const destroy = async () => {
    await Promise.all(hosts.map((host) => host.daemon.stop().catch(() => undefined)));
    for (const host of hosts) if (host.sshd) await removeSshd(host.sshd).catch(() => undefined);
    await network.destroy();
    for (const host of hosts) await removeDir(host.daemon.dir);
    if (pki) await removeDir(pki.dir);
  };
  try {
    const octets = network.gateway.split('.');
    const otherClient = `${octets.slice(0, 3).join('.')}.2`;
    await run('ip', ['addr', 'add', `${otherClient}/24`, 'dev', network.bridge]);
    pki = await makeAdminPki(network.hosts.map((h) => h.address));
    const made = pki;
    await Promise.all(
      options.transports.map(async (transport, i) => {
        const place: NetnsHost = network.hosts[i]!;
        await assertRoutedVia(place.address, network.bridge);
        const start: DaemonOptions = {
          config: { binds: [] },
          mail: { alice: [{ content: MESSAGE }] },
          netns: place.netns,
          args: transport === 'tls' ? adminListenArgs(made, `${place.address}:${ADMIN_PORT}`) : [],
        };
        const daemon = await startReadyDaemon(start);
        const host: FleetHost = { name: `mail${i + 1}`, netns: place.netns, address: place.address, daemon };
        hosts[i] = host;
        starts.set(host, start);
        if (transport === 'tls') host.url = `https://${place.address}:${ADMIN_PORT}`;
        else host.sshd = await startSshd({ host: place.address, netns: place.netns });
      }),
    );
    return {
      network,
      pki: made,
      hosts,
      otherClient,
      entries: () =>
        hosts.map((host) => {
          const binds = `${host.address} ${POP3_PORT}`;
          if (host.url !== undefined) return { name: host.name, url: host.url, binds };
          const sshd = host.sshd!;
          return {
            name: host.name,
            binds,
            ssh: {
              host: sshd.host,
              port: sshd.port,
              username: sshd.username,
              hostKey: sshd.hostKey,
              socket: host.daemon.socket,
            },
          };
        }),
      stopDaemon: async (host) => {
        await host.daemon.stop();
      },
      startDaemon: async (host) => {
        const start = starts.get(host)!;
        // The same directory: users, Maildir and state (instanceId, persisted configuration) are kept.
        host.daemon = await startReadyDaemon({ ...start, dir: host.daemon.dir });
      },
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}

export interface CurlAnswer {
  status: number;
  body: string;
}

/**
 * `curl` over mutual TLS to a host's admin listener, as an operator at a
 * shell would: the deployer's certificate and key (or another identity), the fleet CA.
 */
export async function curlAdmin(
  fleet: Fleet,
  host: FleetHost,
  method: string,
  path: string,
  body?: unknown,
  identity: Identity = fleet.pki.deployer,
): Promise<CurlAnswer> {
  if (host.url === undefined) throw new Error(`${host.name} has no admin listener`);
  await assertRoutedVia(host.address, fleet.network.bridge);
  const dir = await mkdtemp(join(tmpdir(), 'pop3-curl-'));
  try {
    const args = [
      '--silent',
      '--show-error',
      '--max-time',
      '20',
      '--cacert',
      fleet.pki.ca.cert,
      '--cert',
      identity.cert,
      '--key',
      identity.key,
      '--request',
      method,
      '--write-out',
      '\n%{http_code}',
    ];
    if (body !== undefined) {
      const file = join(dir, 'body.json');
      await writeFile(file, JSON.stringify(body));
      args.push('--header', 'Content-Type: application/json', '--data-binary', `@${file}`);
    }
    const { stdout } = await run('curl', [...args, `${host.url}${path}`]);
    const cut = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
