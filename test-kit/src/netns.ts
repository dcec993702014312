/**
 * Network namespaces as hosts: one bridge on a 198.18.N.0/24 test network
 * (RFC 2544's benchmarking range; N = 0 when free, else another free /24 so
 * test files can run side by side), each host a namespace with a veth pair
 * onto it at 198.18.N.(10+i). The host side is 198.18.N.1, so the tests'
 * own processes reach every namespace. Names are unique per network, and
 * `destroy` removes namespaces, veths and the bridge, also after a failed set-up.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args)).stdout;
}

export interface NetnsHost {
  /** The namespace name, for `ip netns exec`. */
  netns: string;
  address: string;
}

export interface TestNetwork {
  bridge: string;
  /** The host side's address on the bridge. */
  gateway: string;
  hosts: NetnsHost[];
  /** The command prefix that runs `command` inside a host. */
  exec(host: NetnsHost, command: string[]): string[];
  destroy(): Promise<void>;
}

/** The third octets of 198.18.N.0/24 networks already routed on this machine. */
async function usedSubnets(): Promise<Set<number>> {
  const used = new Set<number>();
  for (const line of (await ip('-4', 'route', 'show')).split('\n')) {
    const match = /^198\.18\.(\d+)\.\d+/.exec(line);
    if (match) used.add(Number(match[1]));
  }
  return used;
}

/** Throws unless `address` is routed through `bridge` (so a packet can never leave the machine). */
export async function assertRoutedVia(address: string, bridge: string): Promise<void> {
  const routes = JSON.parse(await ip('-j', 'route', 'get', address)) as Array<{ dev?: string }>;
  if (routes[0]?.dev !== bridge)
    throw new Error(
      `${address} is routed via ${routes[0]?.dev ?? 'nothing'}, not the test bridge ${bridge}; not sending`,
    );
}

export async function createTestNetwork(hostCount: number): Promise<TestNetwork> {
  const tag = randomBytes(3).toString('hex');
  const bridge = `p3br${tag}`;
  const namespaces: string[] = [];
  const destroy = async () => {
    // Deleting a namespace deletes the veth end in it, and with it the peer on the bridge.
    for (const netns of namespaces) await ip('netns', 'del', netns).catch(() => undefined);
    await ip('link', 'del', bridge).catch(() => undefined);
  };
  try {
    await ip('link', 'add', 'name', bridge, 'type', 'bridge');
    const used = await usedSubnets();
    const octet = [0, ...Array.from({ length: 254 }, (_, i) => i + 1)].find((n) => !used.has(n));
    if (octet === undefined) throw new Error('no free 198.18.N.0/24 test network');
    const gateway = `198.18.${octet}.1`;
    await ip('addr', 'add', `${gateway}/24`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    // Two files that chose the same N at once: the later one gives up rather than share it.
    const routes = (await ip('-4', 'route', 'show', `198.18.${octet}.0/24`)).trim().split('\n');
    if (routes.length !== 1) throw new Error(`198.18.${octet}.0/24 was taken meanwhile; run again`);
    const hosts: NetnsHost[] = [];
    for (let i = 1; i <= hostCount; i += 1) {
      const netns = `pop3d-${tag}-${i}`;
      const outside = `p3v${tag}${i}`;
      const inside = `p3n${tag}${i}`;
      await ip('netns', 'add', netns);
      namespaces.push(netns);
      await ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
      await ip('link', 'set', outside, 'master', bridge);
      await ip('link', 'set', outside, 'up');
      await ip('link', 'set', inside, 'netns', netns);
      const address = `198.18.${octet}.${10 + i}`;
      await ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', inside);
      await ip('-n', netns, 'link', 'set', inside, 'up');
      await ip('-n', netns, 'link', 'set', 'lo', 'up');
      await assertRoutedVia(address, bridge);
      hosts.push({ netns, address });
    }
    return {
      bridge,
      gateway,
      hosts,
      exec: (host, command) => ['ip', 'netns', 'exec', host.netns, ...command],
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
