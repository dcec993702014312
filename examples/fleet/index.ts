// A fleet: one Pop3Service per host listed in the stack configuration, each
// reached the way its entry says (pop3d --admin-listen over mutual TLS, or
// its admin socket through SSH), with access rules shared by all. Pulumi applies the hosts in parallel, and a
// host that cannot be reached fails its own resource only.
import * as pulumi from '@pulumi/pulumi';
import { Pop3Service, type AdminArgs } from '@pop3-iac/provider';

/** One entry of the `hosts` list. */
interface HostEntry {
  /** The resource name: stable, so that the state follows the host. */
  name: string;
  /** `https://host:port` of its --admin-listen; or leave it out and give `ssh`. */
  url?: string;
  ssh?: { host: string; port?: number; username: string; hostKey: string; socket: string };
  /** Plain POP3 binds on that host. */
  binds: string;
}

const config = new pulumi.Config();
const hosts = config.requireObject<HostEntry[]>('hosts');
// Shared by every host: the access rules (JSON lists of patterns, as permit and deny take them) and,
// for a lab network only, USER/PASS without TLS from other hosts.
const permit = config.getObject<string[]>('permit') ?? [];
const deny = config.getObject<string[]>('deny') ?? [];
const allowPlaintextAuth = config.getBoolean('allowPlaintextAuth') ?? false;
// Also shared: the CA that issued the daemons' certificates, the deployer's certificate,
// and the two private keys, which are secret configuration values.
const caPem = config.get('caPem');
const certPem = config.get('certPem');
const keyPem = config.getSecret('keyPem');
const sshPrivateKey = config.getSecret('sshPrivateKey');

function adminOf(entry: HostEntry): AdminArgs {
  if (entry.url !== undefined) {
    if (caPem === undefined || certPem === undefined || keyPem === undefined)
      throw new Error(`hosts: ${entry.name} uses ${entry.url}: set caPem, certPem and keyPem (--secret)`);
    return { url: entry.url, caPem, certPem, keyPem };
  }
  if (entry.ssh !== undefined) {
    if (sshPrivateKey === undefined) throw new Error(`hosts: ${entry.name} uses ssh: set sshPrivateKey (--secret)`);
    const { socket, ...ssh } = entry.ssh;
    return { ssh: { ...ssh, privateKey: sshPrivateKey }, socket };
  }
  throw new Error(`hosts: ${entry.name} needs url or ssh`);
}

const services = hosts.map(
  (entry) =>
    new Pop3Service(entry.name, { admin: adminOf(entry), binds: entry.binds, permit, deny, allowPlaintextAuth }),
);

export const listeners = Object.fromEntries(hosts.map((entry, i) => [entry.name, services[i]!.listeners]));
// What drift-check.sh compares, for the hosts reached over mutual TLS: where to read each daemon with a
// read-only identity, and the ETag of the configuration Pulumi last applied or read there.
export const applied = Object.fromEntries(
  hosts.flatMap((entry, i) =>
    entry.url === undefined ? [] : [[entry.name, { url: entry.url, etag: services[i]!.etag }]],
  ),
);
