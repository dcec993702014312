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
import { COMPUTED_OUTPUTS, CONFIG_FIELDS } from './fields';
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

export interface Pop3ServiceArgs {
  /** Absolute path of the daemon's admin socket (`pop3d --admin-socket`; default `<state-dir>/admin.sock`). A different path is a different daemon: replace. */
  adminSocket: pulumi.Input<string>;
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
  declare readonly adminSocket: pulumi.Output<string>;
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

  constructor(name: string, args: Pop3ServiceArgs, opts?: pulumi.CustomResourceOptions) {
    const props: pulumi.Inputs = { adminSocket: args.adminSocket };
    for (const field of CONFIG_FIELDS) props[field] = args[field];
    props.tls = protectKey(args.tls);
    for (const output of COMPUTED_OUTPUTS) props[output] = undefined;
    super(pop3ServiceProvider, name, props, opts, MODULE, TYPE);
  }
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
