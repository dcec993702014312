/**
 * The zod schema of a POP3 service configuration. Parsing an input yields the
 * canonical form (see types.ts); every validation rule is enforced here
 * (test/validation.test.ts has a case for each), with the path of the field at fault.
 */
import { z } from 'zod';
import {
  ANY_ADDRESS,
  canonicalBindAddress,
  parseBindEntryText,
  sortBinds,
  splitBindText,
  type BindEntry,
} from './binds';
import { parseAccessPattern } from './access';
import { BindIndex } from './bind-index';
import { limitsSchema } from './limits';
import { isPort, PORT_RANGE, portNumberSchema } from './port';
import { checkTlsMaterial } from './tls-material';
import type { Bind, CanonicalConfig, TlsConfig } from './types';

export const DEFAULT_PORT = 110;
export const DEFAULT_SSL_PORT = 995;
/** Most entries in `binds` or in `ssl.binds`: far more addresses than a host has, few enough to check at once. */
export const MAX_BINDS = 1000;
/** Most patterns in `permit` or in `deny` (each connection is checked against them). */
export const MAX_ACCESS_PATTERNS = 10_000;

/** The error for a list over its cap, before any entry is parsed. */
function tooMany(ctx: z.RefinementCtx, count: number, max: number, what: string): void {
  ctx.addIssue({ code: 'custom', message: `has ${count} ${what}; at most ${max} are allowed` });
}

const portSchema = (fallback: number) => portNumberSchema.default(fallback);

const bindObjectSchema = z.strictObject({
  address: z
    .string({ error: 'must be an IP address or "*"' })
    .describe('an IPv4 or IPv6 address, or * for every address'),
  port: portNumberSchema.optional(),
  proxy: z
    .boolean({ error: 'must be true or false' })
    .optional()
    .describe('connections begin with a PROXY protocol v1 or v2 header from a `proxyProtocol.trusted` balancer'),
});

/**
 * A bind list: the seed's text form (`"192.168.0.1 110, 192.168.0.3 115"`)
 * or an array of entries, each an object `{address, port?}` or the text of one
 * entry (`"[::1] 110"`). Produces entries with the address normalised and the
 * port left open for the owner to fill in.
 */
const bindListSchema = z
  .union([z.string(), z.array(z.union([z.string(), bindObjectSchema]))], {
    error: 'must be text like "192.168.0.1 110, 192.168.0.2 110" or a list of {address, port}',
  })
  .transform((input, ctx): BindEntry[] => {
    let entries: Array<BindEntry | undefined>;
    if (typeof input === 'string') {
      if (input.trim() === '') {
        ctx.addIssue({
          code: 'custom',
          message: 'is empty text; leave the field out to listen on every address, or give [] for no listener',
        });
        return [];
      }
      const count = input.split(',').length;
      if (count > MAX_BINDS) {
        tooMany(ctx, count, MAX_BINDS, 'binds');
        return [];
      }
      const { entries: parsed, problems } = splitBindText(input);
      for (const problem of problems) {
        ctx.addIssue({
          code: 'custom',
          path: problem.field ? [problem.index, problem.field] : [problem.index],
          message: problem.message,
        });
      }
      if (problems.length > 0) return [];
      entries = parsed;
    } else {
      if (input.length > MAX_BINDS) {
        tooMany(ctx, input.length, MAX_BINDS, 'binds');
        return [];
      }
      entries = input.map((item, index) => {
        if (typeof item !== 'string') return item;
        const parsed = parseBindEntryText(item.trim());
        if ('message' in parsed) {
          ctx.addIssue({
            code: 'custom',
            path: parsed.field ? [index, parsed.field] : [index],
            message: parsed.message,
          });
          return undefined;
        }
        return parsed;
      });
    }
    // Entries keep their input positions, so later checks (duplicates,
    // conflicts) can name the entry the operator wrote.
    const normalised: BindEntry[] = [];
    let failed = entries.includes(undefined);
    entries.forEach((entry, index) => {
      if (entry === undefined) return;
      const address = canonicalBindAddress(entry.address);
      if (address === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [index, 'address'],
          message: `"${entry.address}" is not an IP address or "*" (IPv6 may be bare or in brackets, e.g. [::1])`,
        });
        failed = true;
      }
      if (entry.port !== undefined && !isPort(entry.port)) {
        ctx.addIssue({ code: 'custom', path: [index, 'port'], message: `must be a port ${PORT_RANGE}` });
        failed = true;
      }
      if (address === undefined) return;
      const bind: BindEntry = entry.port === undefined ? { address } : { address, port: entry.port };
      // Canonical: `proxy` appears only when true, so configs without it keep their form.
      if (entry.proxy === true) bind.proxy = true;
      normalised.push(bind);
    });
    return failed ? [] : normalised;
  });

/** Permit or deny: a list of patterns, or the same as comma-separated text. */
const accessListSchema = z
  .union([z.string(), z.array(z.string({ error: 'must be a pattern such as 192.168.0.* or 10.0.0.0/8' }))], {
    error: 'must be a list of patterns such as ["192.168.0.*", "10.0.0.0/8"]',
  })
  .transform((input, ctx): string[] => {
    const patterns = typeof input === 'string' ? input.split(',').filter((p) => p.trim() !== '') : input;
    if (patterns.length > MAX_ACCESS_PATTERNS) {
      tooMany(ctx, patterns.length, MAX_ACCESS_PATTERNS, 'patterns');
      return [];
    }
    const canonical = new Set<string>();
    patterns.forEach((pattern, index) => {
      const range = parseAccessPattern(pattern);
      if ('message' in range) ctx.addIssue({ code: 'custom', path: [index], message: range.message });
      else canonical.add(range.text);
    });
    return [...canonical].sort();
  });

const tlsSchema = z
  .strictObject({
    certFile: z.string().min(1).optional().describe('path of the PEM certificate (chain) on the daemon host'),
    keyFile: z.string().min(1).optional().describe('path of the PEM private key on the daemon host'),
    certPem: z.string().min(1).optional().describe('the PEM certificate (chain) inline'),
    keyPem: z.string().min(1).optional().describe('the PEM private key inline (a secret)'),
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('lowest TLS version accepted'),
  })
  .transform((tls, ctx): TlsConfig => {
    const files = tls.certFile !== undefined || tls.keyFile !== undefined;
    const inline = tls.certPem !== undefined || tls.keyPem !== undefined;
    if (files && inline) {
      ctx.addIssue({
        code: 'custom',
        message: 'give the certificate either as files (certFile, keyFile) or inline (certPem, keyPem), not both',
      });
      return z.NEVER;
    }
    if (inline) {
      for (const field of ['certPem', 'keyPem'] as const) {
        if (tls[field] === undefined)
          ctx.addIssue({ code: 'custom', path: [field], message: 'is required with the other inline PEM field' });
      }
      if (tls.certPem === undefined || tls.keyPem === undefined) return z.NEVER;
      const problem = checkTlsMaterial(tls.certPem, tls.keyPem);
      if (problem) {
        ctx.addIssue({
          code: 'custom',
          path: [problem.field === 'cert' ? 'certPem' : 'keyPem'],
          message: problem.message,
        });
        return z.NEVER;
      }
      return { certPem: tls.certPem, keyPem: tls.keyPem, minVersion: tls.minVersion };
    }
    for (const field of ['certFile', 'keyFile'] as const) {
      if (tls[field] === undefined)
        ctx.addIssue({ code: 'custom', path: [field], message: 'is required (or give certPem and keyPem inline)' });
    }
    if (tls.certFile === undefined || tls.keyFile === undefined) return z.NEVER;
    return { certFile: tls.certFile, keyFile: tls.keyFile, minVersion: tls.minVersion };
  });

/** Patterns that match every address: trusting them lets any client claim any address. */
const EVERY_ADDRESS_PATTERNS: ReadonlySet<string> = new Set(['*', '0.0.0.0/0', '::/0']);

const proxyProtocolSchema = z.strictObject({
  trusted: accessListSchema
    .superRefine((patterns, ctx) => {
      for (const pattern of patterns) {
        if (EVERY_ADDRESS_PATTERNS.has(pattern))
          ctx.addIssue({
            code: 'custom',
            message: `"${pattern}" would trust every address, so any client could claim any address; list the balancers' addresses or networks`,
          });
      }
    })
    .describe('balancers allowed to send a PROXY header (patterns as in permit/deny); required when a bind has proxy'),
  timeoutSeconds: z
    .number({ error: 'must be a whole number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(1, { error: 'must be at least 1 second' })
    .max(60, { error: 'must be at most 60 seconds' })
    .default(5)
    .describe('seconds a balancer has to send the whole header after connecting, from 1 to 60; default 5'),
});

const everyAddress = [{ address: ANY_ADDRESS }];

export const configInputSchema = z.strictObject({
  binds: bindListSchema.default(everyAddress).describe('plain POP3 listeners; default every address on `port`'),
  port: portSchema(DEFAULT_PORT).describe('port of any bind that names none; default 110'),
  ssl: z
    .strictObject({
      enabled: z
        .boolean({ error: 'must be true or false' })
        .default(false)
        .describe('implicit-TLS (POP3S) listeners on or off'),
      binds: bindListSchema.default(everyAddress).describe('POP3S listeners; default every address on `ssl.port`'),
      port: portSchema(DEFAULT_SSL_PORT).describe('port of any SSL bind that names none; default 995'),
    })
    .prefault({}),
  starttls: z
    .boolean({ error: 'must be true or false' })
    .default(false)
    .describe('offer STLS (RFC 2595) on plain listeners'),
  tls: tlsSchema.optional().describe('certificate and key, as files on the daemon host or inline PEM'),
  permit: accessListSchema.default([]).describe('patterns admitted; empty admits everyone'),
  deny: accessListSchema.default([]).describe('patterns refused; deny wins over permit'),
  allowPlaintextAuth: z
    .boolean({ error: 'must be true or false' })
    .default(false)
    .describe('allow USER/PASS and AUTH PLAIN without TLS from non-loopback peers'),
  dropDeniedSessions: z
    .boolean({ error: 'must be true or false' })
    .default(false)
    .describe('an apply that refuses an address also closes its open sessions'),
  limits: limitsSchema.prefault({}),
  proxyProtocol: proxyProtocolSchema
    .optional()
    .describe('PROXY protocol on binds marked proxy: who may send the header, and how fast'),
});

/**
 * TLS is needed by SSL or STARTTLS. Checked even when other fields are
 * invalid (`when`), so an operator sees every problem in one pass; the
 * payload may then be malformed, hence the defensive reads.
 */
function requireTlsWhenUsed(input: unknown, ctx: z.RefinementCtx): void {
  const value = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const ssl = (typeof value.ssl === 'object' && value.ssl !== null ? value.ssl : {}) as Record<string, unknown>;
  const wants = [ssl.enabled === true && 'ssl.enabled', value.starttls === true && 'starttls'].filter(Boolean);
  if (wants.length > 0 && value.tls === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['tls'],
      message: `is required when ${wants.join(' and ')} is true: give certFile and keyFile, or certPem and keyPem`,
    });
  }
}

/**
 * A bind list as far as it parsed, with ports filled in: the refinement
 * below runs on partial results (`when`), so a list that failed (or a port
 * that did) gives no binds, or only those that name their own port.
 */
function bindsSoFar(list: unknown, port: unknown): Array<Bind | undefined> {
  if (!Array.isArray(list)) return [];
  const fallback = isPort(port) ? port : undefined;
  const binds: Array<Bind | undefined> = [];
  for (const entry of list as unknown[]) {
    const { address, port: own } = (typeof entry === 'object' && entry !== null ? entry : {}) as Partial<BindEntry>;
    // Not the bind schema's output (its parse failed): nothing to compare.
    if (typeof address !== 'string' || canonicalBindAddress(address) !== address) return [];
    const resolved = own ?? fallback;
    // Kept in place even without a port, so that an index still names the entry as written.
    binds.push(typeof resolved === 'number' ? { address, port: resolved } : undefined);
  }
  return binds;
}

/**
 * No two listeners on one address and port: within `binds`, within
 * `ssl.binds`, and between the two when SSL is on. Checked even when other
 * fields are invalid (`when`), so an operator sees every problem in one pass.
 */
function rejectBindConflicts(input: unknown, ctx: z.RefinementCtx): void {
  const value = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const ssl = (typeof value.ssl === 'object' && value.ssl !== null ? value.ssl : {}) as Record<string, unknown>;
  const binds = bindsSoFar(value.binds, value.port);
  const sslBinds = bindsSoFar(ssl.binds, ssl.port);
  reportConflicts(binds, ['binds'], ctx);
  reportConflicts(sslBinds, ['ssl', 'binds'], ctx);
  if (ssl.enabled !== true) return;
  const plainIndex = new BindIndex();
  for (const bind of binds) if (bind !== undefined) plainIndex.add(bind);
  for (const [index, sslBind] of sslBinds.entries()) {
    if (sslBind === undefined) continue;
    const plain = plainIndex.firstOverlap(sslBind);
    if (plain) {
      ctx.addIssue({
        code: 'custom',
        path: ['ssl', 'binds', index],
        message: `${describe(sslBind)} is also a plain bind (${describe(plain)}); one address and port can serve plain POP3 or POP3S, not both`,
      });
    }
  }
}

/**
 * A bind marked `proxy` needs `proxyProtocol.trusted`: without it no
 * balancer could be told from a client forging a header. Checked even when
 * other fields are invalid (`when`), hence the defensive reads.
 */
function requireTrustedForProxy(input: unknown, ctx: z.RefinementCtx): void {
  const value = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const ssl = (typeof value.ssl === 'object' && value.ssl !== null ? value.ssl : {}) as Record<string, unknown>;
  const marked = [...proxyBindPaths(value.binds, 'binds'), ...proxyBindPaths(ssl.binds, 'ssl.binds')];
  if (marked.length === 0) return;
  const proxyProtocol = value.proxyProtocol as Record<string, unknown> | undefined;
  const trusted = typeof proxyProtocol === 'object' && proxyProtocol !== null ? proxyProtocol.trusted : undefined;
  const why = `${marked.join(', ')} ${marked.length === 1 ? 'has' : 'have'} proxy: true`;
  if (trusted === undefined && (proxyProtocol === undefined || proxyProtocol === null)) {
    ctx.addIssue({
      code: 'custom',
      path: ['proxyProtocol', 'trusted'],
      message: `is required because ${why}: list the balancers allowed to send a PROXY header (e.g. ["10.0.0.5"])`,
    });
  } else if (Array.isArray(trusted) && trusted.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['proxyProtocol', 'trusted'],
      message: `must list at least one balancer because ${why}`,
    });
  }
}

function proxyBindPaths(list: unknown, path: string): string[] {
  if (!Array.isArray(list)) return [];
  return (list as unknown[]).flatMap((entry, index) =>
    typeof entry === 'object' && entry !== null && (entry as BindEntry).proxy === true ? [`${path}[${index}]`] : [],
  );
}

/** The full schema: input in, canonical config out, cross-field rules checked. */
export const configSchema = configInputSchema
  .superRefine(requireTlsWhenUsed, { when: () => true })
  .superRefine(rejectBindConflicts, { when: () => true })
  .superRefine(requireTrustedForProxy, { when: () => true })
  .transform((input): CanonicalConfig => {
    const binds = input.binds.map((b) => withPort(b, input.port));
    const sslBinds = input.ssl.binds.map((b) => withPort(b, input.ssl.port));
    const config: CanonicalConfig = {
      binds: sortBinds(binds),
      port: input.port,
      ssl: { enabled: input.ssl.enabled, binds: sortBinds(sslBinds), port: input.ssl.port },
      starttls: input.starttls,
      permit: input.permit,
      deny: input.deny,
      allowPlaintextAuth: input.allowPlaintextAuth,
      dropDeniedSessions: input.dropDeniedSessions,
      limits: input.limits,
    };
    if (input.tls !== undefined) config.tls = input.tls;
    if (input.proxyProtocol !== undefined) config.proxyProtocol = input.proxyProtocol;
    return config;
  });

function withPort(entry: BindEntry, fallback: number): Bind {
  const bind: Bind = { address: entry.address, port: entry.port ?? fallback };
  if (entry.proxy === true) bind.proxy = true;
  return bind;
}

function describe(bind: Bind): string {
  return `"${bind.address.includes(':') ? `[${bind.address}]` : bind.address} ${bind.port}"`;
}

// Binds are still in input order here, so a path names the entry as written;
// the message also quotes the bind, since the text form has no visible indices.
function reportConflicts(binds: Array<Bind | undefined>, path: Array<string | number>, ctx: z.RefinementCtx): void {
  const seen = new BindIndex();
  binds.forEach((bind, index) => {
    if (bind === undefined) return;
    const earlier = seen.firstOverlap(bind);
    seen.add(bind);
    if (earlier === undefined) return;
    const message =
      earlier.address === bind.address
        ? `${describe(bind)} is listed twice`
        : `${describe(bind)} cannot coexist with ${describe(earlier)}: both would listen on port ${bind.port} of the same address`;
    ctx.addIssue({ code: 'custom', path: [...path, index], message });
  });
}

export type ConfigInput = z.input<typeof configInputSchema>;
