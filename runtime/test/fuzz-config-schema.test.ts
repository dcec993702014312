// Fuzzing the configuration schema with random JSON (runtime/README.md,
// Guarantees: "Bad input is survived"): only zod's error path, never a throw;
// issues are paths and sentences that never echo an inline key; a valid input's
// canonical form is a fixed point. `npm run fuzz` runs the same property 10^5
// times.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { checkConfigInput, fuzzSchema, SECRET_MARKER, type SchemaFuzzStats } from '../fuzz/schema-fuzz';

describe('fuzz: the configuration schema', () => {
  it('known inputs: a valid config is a fixed point; an invalid one with an inline key does not echo it', () => {
    const stats: SchemaFuzzStats = { cases: 0, valid: 0, invalid: 0 };
    checkConfigInput({ binds: '127.0.0.1 1100, [::1] 1100', deny: '10.*', limits: { maxLineLength: 512 } }, stats);
    checkConfigInput({ starttls: true, tls: { certPem: 'x', keyPem: SECRET_MARKER }, port: 0 }, stats);
    checkConfigInput({ ssl: { enabled: true }, tls: { certPem: SECRET_MARKER, keyPem: SECRET_MARKER } }, stats);
    assert.deepEqual(stats, { cases: 3, valid: 1, invalid: 2 });
  });

  it('random JSON and config-shaped input: a result or issues, never a throw', () => {
    const stats: SchemaFuzzStats = { cases: 0, valid: 0, invalid: 0 };
    fuzzSchema({ numRuns: 4000, stats });
    assert.equal(stats.cases, 4000);
    // Both outcomes are explored, or the property would be half-tested.
    assert.ok(stats.valid >= 100, `valid inputs: ${stats.valid}`);
    assert.ok(stats.invalid >= 1000, `invalid inputs: ${stats.invalid}`);
  });
});
