/**
 * `Pop3Service`: the service configuration of one pop3d, owned by a Pulumi
 * program. Inputs are the schema's fields (schema/README.md) plus the daemon's
 * admin socket; outputs are what the daemon applied, in its canonical and
 * redacted form (an inline private key appears only as `tls.keyFingerprint`).
 */
import * as pulumi from '@pulumi/pulumi';
import type {
  Bind,
  Limits,
  Listener,
  ProxyProtocolSettings,
  TlsFiles,
  TlsInlineRedacted,
  TlsVersion,
} from '@pop3-iac/schema';
import { COMPUTED_OUTPUTS, CONFIG_FIELDS, OWNER_INPUT, PREVIEW_INPUT } from './fields';
import { pop3ServiceProvider } from './provider';

/** One bind: an address (`*`, IPv4, IPv6 bare or in brackets) and an optional port. */
export interface BindArgs {
  address: pulumi.Input<string>;
  /** 1..65535. Default: the owning list's port (`port` or `ssl.port`). */
  port?: pulumi.Input<number>;
  /** Connections begin with a PROXY protocol header from a `proxyProtocol.trusted` balancer. Default false. */
  proxy?: pulumi.Input<boolean>;
}

/** Binds in the seed's text form (`"192.168.0.1 110, 192.168.0.3 115"`), or a list of entries. */
export type BindsArgs = pulumi.Input<string | pulumi.Input<string | pulumi.Input<BindArgs>>[]>;

/** Access patterns: a list (`["192.168.0.*", "10.0.0.0/8"]`) or comma-separated text. */
export type PatternsArgs = pulumi.Input<string | pulumi.Input<string>[]>;

export interface SslArgs {
  /** Implicit-TLS (POP3S, RFC 8314) listeners on or off. Default false. */
  enabled?: pulumi.Input<boolean>;
  /** POP3S listeners. Default every address (`*`) on `ssl.port`. */
  binds?: BindsArgs;
  /** Port of any SSL bind that names none. Default 995. */
  port?: pulumi.Input<number>;
}

/** Certificate and key as files on the daemon host (checked by the daemon when it applies). */
export interface TlsFilesArgs {
  certFile: pulumi.Input<string>;
  keyFile: pulumi.Input<string>;
  /** Lowest TLS version accepted. Default "TLSv1.2". */
  minVersion?: pulumi.Input<TlsVersion>;
}

/** Certificate and key inline, as PEM. `keyPem` is made a Pulumi secret whatever you pass. */
export interface TlsInlineArgs {
  certPem: pulumi.Input<string>;
  keyPem: pulumi.Input<string>;
  /** Lowest TLS version accepted. Default "TLSv1.2". */
  minVersion?: pulumi.Input<TlsVersion>;
}

export type LimitsArgs = { [K in keyof Limits]?: pulumi.Input<number> };

/** The daemon's admin socket on this machine: absolute path of `pop3d --admin-socket`. */
export interface AdminSocketArgs {
  socket: pulumi.Input<string>;
}

/** The daemon's admin listener (`pop3d --admin-listen`), with a client certificate (TLS 1.3). */
export interface AdminTlsArgs {
  /** `https://host:port`. */
  url: pulumi.Input<string>;
  /** PEM of the CA that issued the daemon's --admin-tls-cert. */
  caPem: pulumi.Input<string>;
  /** PEM of a client certificate issued by the daemon's --admin-client-ca. */
  certPem: pulumi.Input<string>;
  /** PEM of its private key: made a Pulumi secret whatever you pass. */
  keyPem: pulumi.Input<string>;
}

/** The daemon's admin socket on another host, through SSH (OpenSSH streamlocal forwarding). */
export interface AdminSshArgs {
  ssh: pulumi.Input<{
    host: pulumi.Input<string>;
    /** Default 22. */
    port?: pulumi.Input<number>;
    username: pulumi.Input<string>;
    /** The user's private key (OpenSSH or PEM): made a Pulumi secret whatever you pass. */
    privateKey: pulumi.Input<string>;
    /** The host's public key in known_hosts form (`ssh-ed25519 AAAA…`); required, never trusted on first use. */
    hostKey: pulumi.Input<string>;
  }>;
  /** Absolute path of the daemon's --admin-socket on that host. */
  socket: pulumi.Input<string>;
}

export type AdminArgs = AdminSocketArgs | AdminTlsArgs | AdminSshArgs;

export interface Pop3ServiceArgs {
  /**
   * How to reach the daemon (provider/README.md "Reaching the daemon: `admin`"). The resource is the daemon
   * behind it (its `instanceId`): the same daemon reached another way is an update, another daemon
   * a replace. A remote target is stored as a secret (it holds a private key).
   */
  admin?: pulumi.Input<AdminArgs>;
  /** Shorthand of `admin: { socket }`: absolute path of `pop3d --admin-socket` (default `<state-dir>/admin.sock`). */
  adminSocket?: pulumi.Input<string>;
  /**
   * Read when the resource is created on a daemon. Unset: a daemon nobody owns is adopted (preview
   * warns with each field the program changes), one another resource owns is refused. `false`: also
   * refuse a daemon nobody owns that serves another configuration. `true`: also take the daemon over
   * from another resource (whose delete then changes nothing). Changing it applies nothing.
   */
  adopt?: pulumi.Input<boolean>;
  /** Plain POP3 listeners. Default every address (`*`) on `port`; `[]` for none. */
  binds?: BindsArgs;
  /** Port of any bind that names none, 1..65535. Default 110. */
  port?: pulumi.Input<number>;
  ssl?: pulumi.Input<SslArgs>;
  /** Offer STLS (RFC 2595) on the plain listeners; needs `tls`. Default false. */
  starttls?: pulumi.Input<boolean>;
  /** Required when `ssl.enabled` or `starttls`: files on the daemon host, or inline PEM. */
  tls?: pulumi.Input<TlsFilesArgs | TlsInlineArgs>;
  /** Clients admitted; empty admits everyone. Default []. */
  permit?: PatternsArgs;
  /** Clients refused; deny wins over permit. Default []. */
  deny?: PatternsArgs;
  /** Allow USER/PASS and AUTH PLAIN without TLS from a non-loopback peer. Default false. */
  allowPlaintextAuth?: pulumi.Input<boolean>;
  /** An apply that refuses an address also closes its open sessions. Default false. */
  dropDeniedSessions?: pulumi.Input<boolean>;
  limits?: pulumi.Input<LimitsArgs>;
  /** Required when a bind has `proxy`: the balancers that may send a PROXY header, and its deadline. */
  proxyProtocol?: pulumi.Input<ProxyProtocolArgs>;
}

export interface ProxyProtocolArgs {
  /** Balancer addresses (patterns as in `permit`); never every address. */
  trusted: PatternsArgs;
  /** Seconds a balancer has to send the whole header, 1..60. Default 5. */
  timeoutSeconds?: pulumi.Input<number>;
}

/** The resource type: `pulumi-nodejs:dynamic/pop3:Pop3Service`. Changing it orphans existing state. */
const MODULE = 'pop3';
const TYPE = 'Pop3Service';

export class Pop3Service extends pulumi.dynamic.Resource {
  // `declare`: with ES2022 class fields a plain declaration would overwrite
  // the outputs the base constructor registers.
  /** The local socket's path; unset when `admin` names a remote daemon. */
  declare readonly adminSocket: pulumi.Output<string | undefined>;
  /** The remote target as given: a secret output (it holds `keyPem` or `privateKey`). */
  declare readonly admin: pulumi.Output<AdminArgs | undefined>;
  /** Canonical: every bind with its port, addresses normalised, sorted. */
  declare readonly binds: pulumi.Output<Bind[]>;
  declare readonly port: pulumi.Output<number>;
  declare readonly ssl: pulumi.Output<{
    enabled: boolean;
    binds: Bind[];
    port: number;
  }>;
  declare readonly starttls: pulumi.Output<boolean>;
  /** Files, or an inline certificate with the key's fingerprint (`sha256:<hex>`); never the key. */
  declare readonly tls: pulumi.Output<TlsFiles | TlsInlineRedacted | undefined>;
  declare readonly permit: pulumi.Output<string[]>;
  declare readonly deny: pulumi.Output<string[]>;
  declare readonly allowPlaintextAuth: pulumi.Output<boolean>;
  declare readonly dropDeniedSessions: pulumi.Output<boolean>;
  declare readonly limits: pulumi.Output<Limits>;
  declare readonly proxyProtocol: pulumi.Output<ProxyProtocolSettings | undefined>;
  /** Every socket the daemon listens on for this configuration. */
  declare readonly listeners: pulumi.Output<Listener[]>;
  /** The daemon's configuration generation after the last apply. */
  declare readonly generation: pulumi.Output<number>;
  /** The daemon's ETag of the applied configuration. */
  declare readonly etag: pulumi.Output<string>;
  /** The daemon's identity (its state directory's `instanceId`): also the resource's ID. */
  declare readonly instanceId: pulumi.Output<string>;
  /** The owner this resource recorded on the daemon: `{project, stack, resource, claim}`. */
  declare readonly owner: pulumi.Output<{
    project: string;
    stack: string;
    resource: string;
    claim: string;
  }>;

  constructor(name: string, args: Pop3ServiceArgs, opts?: pulumi.CustomResourceOptions) {
    if (opts?.import !== undefined) {
      // The dynamic-provider host cannot import (pulumi/pulumi#3550): say so in one line, without a stack trace.
      throw new pulumi.RunError(
        `Pop3Service ${name}: the import option does not work with dynamic providers; remove it and let create ` +
          'adopt the daemon (adopt: true if another resource owns it); see provider/README.md "Importing a daemon"',
      );
    }
    // Every key the program gave, known or not: check names the ones Pop3Service does not take (`bindz`).
    const props: pulumi.Inputs = { ...(args as unknown as pulumi.Inputs), adminSocket: args.adminSocket };
    // The whole target is secret: the engine marks an output secret when its input was, and the SDK wants
    // additionalSecretOutputs for the outputs too; hosts and URLs are hidden with the key, a small price.
    props.admin = args.admin === undefined ? undefined : pulumi.secret(args.admin);
    for (const field of CONFIG_FIELDS) props[field] = args[field];
    props.tls = protectKey(args.tls);
    props.adopt = args.adopt;
    // Who applies: the daemon records it, and refuses a create by another resource.
    const project = pulumi.getProject();
    const stack = pulumi.getStack();
    props[OWNER_INPUT] = { project, stack, resource: name, aliases: formerNames(opts?.aliases, project, stack) };
    // Whether this is a preview: the provider's diff is not told (see PREVIEW_INPUT).
    props[PREVIEW_INPUT] = pulumi.runtime.isDryRun();
    for (const output of COMPUTED_OUTPUTS) props[output] = undefined;
    super(
      pop3ServiceProvider,
      name,
      props,
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), 'admin'] },
      MODULE,
      TYPE,
    );
  }
}

/**
 * The names an `aliases` option says this resource had (a rename, a move from
 * another stack): a create may take over what one of them applied. Only names
 * known when the program runs count (a string, not an Output).
 */
function formerNames(
  aliases: pulumi.CustomResourceOptions['aliases'],
  project: string,
  stack: string,
): Array<{ project: string; stack: string; resource: string }> {
  const names: Array<{ project: string; stack: string; resource: string }> = [];
  for (const alias of aliases ?? []) {
    if (typeof alias === 'string') {
      // urn:pulumi:<stack>::<project>::<type>::<name>
      const match = /^urn:pulumi:([^:]+)::([^:]+)::[^:]+(?:::[^:]+)*::(.+)$/.exec(alias);
      if (match) names.push({ stack: match[1]!, project: match[2]!, resource: match[3]! });
    } else if (typeof alias === 'object' && alias !== null && !pulumi.Output.isInstance(alias)) {
      const { name, project: aliasProject, stack: aliasStack } = alias as pulumi.Alias;
      if (typeof name !== 'string') continue;
      names.push({
        project: typeof aliasProject === 'string' ? aliasProject : project,
        stack: typeof aliasStack === 'string' ? aliasStack : stack,
        resource: name,
      });
    }
  }
  return names;
}

/**
 * Makes an inline private key a secret, so that neither the state nor any
 * output holds it in plain text. Only the key: the certificate and the key's
 * fingerprint stay readable. A `tls` given as one Output becomes secret whole.
 */
function protectKey(tls: Pop3ServiceArgs['tls']): pulumi.Input<unknown> {
  if (tls === undefined) return undefined;
  if (pulumi.Output.isInstance(tls) || tls instanceof Promise) {
    return pulumi.output(tls).apply((value) => ('keyPem' in value ? pulumi.secret(value) : value));
  }
  if ('keyPem' in tls) return { ...tls, keyPem: pulumi.secret(tls.keyPem) };
  return tls;
}
