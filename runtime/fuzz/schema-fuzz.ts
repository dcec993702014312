/**
 * Property-based fuzzing of the configuration schema with random JSON: both
 * arbitrary JSON values and config-shaped objects whose fields hold a mix of
 * valid values, near misses and junk.
 *
 * The property, for every input:
 *   - parseConfig never throws: it returns `{ok: true, config}` or
 *     `{ok: false, issues}` (zod's error path only);
 *   - issues are `{path, code, message}` strings, and no issue ever echoes the
 *     inline private key it was given;
 *   - a valid input's canonical form is a fixed point: it survives a JSON
 *     round trip (what the daemon persists) and parses to itself.
 *
 * Shared by runtime/test/fuzz-config-schema.test.ts and runtime/fuzz/run.ts.
 */
import { deepStrictEqual } from 'node:assert';
import fc from 'fast-check';
import { parseConfig } from '@pop3-iac/schema';

/** Put into every generated keyPem: no issue message may contain it. */
export const SECRET_MARKER = 'S3CR3T-K3Y-MATERIAL';

const addressArb = fc.oneof(
  fc.constantFrom('*', '127.0.0.1', '192.168.0.1', '::1', '[::1]', '::', '0.0.0.0', '::ffff:10.0.0.1', 'fe80::1%lo'),
  fc.constantFrom('010.0.0.1', '256.1.1.1', '1.2.3', 'localhost', '[::1', '::1]', '*.*', '', ' '),
  fc.ipV4(),
  fc.ipV6(),
  fc.string({ maxLength: 10 }),
);
const portArb = fc.oneof(
  fc.integer({ min: 1, max: 65535 }),
  fc.constantFrom(0, -1, 65536, 1.5, Number.MAX_SAFE_INTEGER),
  fc.jsonValue({ maxDepth: 1 }),
);
const bindTextArb = fc
  .tuple(
    fc.array(fc.tuple(addressArb, fc.option(portArb, { nil: undefined })), { maxLength: 4 }),
    fc.constantFrom(', ', ',', ' , '),
  )
  .map(([items, sep]) =>
    items.map(([a, p]) => (p === undefined ? a : `${a} ${typeof p === 'number' ? p : JSON.stringify(p)}`)).join(sep),
  );
const bindsArb = fc.oneof(
  bindTextArb,
  fc.array(
    fc.oneof(
      fc.record({ address: addressArb, port: fc.option(portArb, { nil: undefined }) }, { requiredKeys: ['address'] }),
      bindTextArb,
      fc.jsonValue({ maxDepth: 2 }),
    ),
    { maxLength: 4 },
  ),
);
const patternArb = fc.oneof(
  fc.constantFrom('*', '192.168.0.*', '202.*', '10.1.*.*', '192.168.0.1/16', '2001:db8::/32', '::ffff:10.0.0.0/104'),
  fc.constantFrom('192.*.0.1', '1.2.3.4/33', '::1/129', '*.*.*.*.*', 'fe80::1%eth0', '300.*', '1.2.3.4/'),
  fc.ipV4(),
  fc.ipV6(),
  fc.tuple(fc.ipV4(), fc.integer({ min: -1, max: 40 })).map(([a, n]) => `${a}/${n}`),
  fc.string({ maxLength: 10 }),
);
const patternsArb = fc.oneof(fc.array(patternArb, { maxLength: 4 }), patternArb, fc.jsonValue({ maxDepth: 1 }));
const pemArb = fc.constantFrom(
  `-----BEGIN PRIVATE KEY-----\n${SECRET_MARKER}\n-----END PRIVATE KEY-----\n`,
  `${SECRET_MARKER}`,
  `-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
);
const tlsArb = fc.oneof(
  fc.record(
    { certPem: pemArb, keyPem: pemArb, minVersion: fc.constantFrom('TLSv1.2', 'TLSv1.3', 'TLSv1', 'SSLv3') },
    { requiredKeys: [] },
  ),
  fc.record({ certFile: fc.string({ maxLength: 20 }), keyFile: fc.string({ maxLength: 20 }) }, { requiredKeys: [] }),
  fc.record({ certPem: pemArb, keyPem: pemArb, certFile: fc.string(), keyFile: fc.string() }),
  fc.jsonValue({ maxDepth: 1 }),
);
const limitsArb = fc.oneof(
  fc.dictionary(
    fc.constantFrom(
      'maxLineLength',
      'authTimeoutSeconds',
      'idleTimeoutSeconds',
      'maxBadCommands',
      'maxConnections',
      'maxConnectionsPerIp',
      'loginFailureDelayMs',
      'loginFailureDelayMaxMs',
      'maxLinelength',
    ),
    fc.oneof(fc.integer({ min: -10, max: 700_000 }), fc.double(), fc.jsonValue({ maxDepth: 0 })),
    { maxKeys: 5 },
  ),
  fc.jsonValue({ maxDepth: 1 }),
);
const boolArb = fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 0 }));

/** A config-shaped object: every field optional, values valid, nearly valid or junk; sometimes an unknown key. */
export const configLikeArb: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    binds: bindsArb,
    port: portArb,
    ssl: fc.oneof(
      fc.record({ enabled: boolArb, binds: bindsArb, port: portArb }, { requiredKeys: [] }),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    starttls: boolArb,
    tls: tlsArb,
    permit: patternsArb,
    deny: patternsArb,
    allowPlaintextAuth: boolArb,
    dropDeniedSessions: boolArb,
    limits: limitsArb,
    sll: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: [] },
);

/** Configs built from valid values only (most of them valid; duplicate or clashing binds are not). */
export const validishConfigArb: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    binds: fc.oneof(
      fc
        .uniqueArray(fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 })), { maxLength: 3, selector: ([a]) => a })
        .map((items) => items.map(([a, p]) => `${a} ${p}`).join(', ')),
      fc.uniqueArray(fc.ipV6(), { maxLength: 2 }).map((items) => items.map((address) => ({ address }))),
      fc.constant('* 1100'),
    ),
    port: fc.integer({ min: 1, max: 65535 }),
    permit: fc.array(patternArb, { maxLength: 3 }),
    deny: fc.array(
      fc.oneof(
        fc.ipV4(),
        fc.ipV6(),
        fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`),
      ),
      { maxLength: 3 },
    ),
    allowPlaintextAuth: fc.boolean(),
    dropDeniedSessions: fc.boolean(),
    limits: fc.record(
      {
        maxLineLength: fc.integer({ min: 255, max: 65536 }),
        idleTimeoutSeconds: fc.integer({ min: 1, max: 86400 }),
        maxBadCommands: fc.integer({ min: 1, max: 1000 }),
        loginFailureDelayMs: fc.integer({ min: 0, max: 60_000 }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

/** Any JSON value, a config-shaped one, or one built from valid values. */
export const configInputArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: fc.jsonValue() },
  { weight: 3, arbitrary: configLikeArb },
  { weight: 2, arbitrary: validishConfigArb },
);

export interface SchemaFuzzStats {
  cases: number;
  valid: number;
  invalid: number;
}

/** Checks the property for one input; throws on a violation. */
export function checkConfigInput(input: unknown, stats?: SchemaFuzzStats): void {
  let result: ReturnType<typeof parseConfig>;
  try {
    result = parseConfig(input);
  } catch (error) {
    throw new Error(`parseConfig threw ${String(error)} for ${JSON.stringify(input)}`);
  }
  if (stats) stats.cases++;
  if (result.ok) {
    if (stats) stats.valid++;
    const persisted = JSON.parse(JSON.stringify(result.config)) as unknown;
    const again = parseConfig(persisted);
    if (!again.ok)
      throw new Error(`the canonical form of ${JSON.stringify(input)} does not parse: ${JSON.stringify(again.issues)}`);
    deepStrictEqual(again.config, result.config, 'canonical form is not a fixed point');
    return;
  }
  if (stats) stats.invalid++;
  if (!Array.isArray(result.issues) || result.issues.length === 0) throw new Error('invalid without issues');
  for (const issue of result.issues) {
    if (typeof issue.path !== 'string' || issue.path === '')
      throw new Error(`issue without a path: ${JSON.stringify(issue)}`);
    if (typeof issue.code !== 'string' || issue.code === '')
      throw new Error(`issue without a code: ${JSON.stringify(issue)}`);
    if (typeof issue.message !== 'string' || issue.message === '')
      throw new Error(`issue without a message: ${JSON.stringify(issue)}`);
    if (JSON.stringify(issue).includes(SECRET_MARKER))
      throw new Error(`an issue echoes the private key: ${JSON.stringify(issue)}`);
  }
}

export function fuzzSchema(options: { numRuns: number; seed?: number; stats?: SchemaFuzzStats }): void {
  fc.assert(
    fc.property(configInputArb, (input) => checkConfigInput(input, options.stats)),
    { numRuns: options.numRuns, seed: options.seed, endOnFailure: true },
  );
}
