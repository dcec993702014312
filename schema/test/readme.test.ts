// Keeps schema/README.md's field table in step with the zod schema: every
// field documented with its real default, and no row for a field that is gone.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { configJsonSchema } from '../src';

type JsonSchema = { properties?: Record<string, JsonSchema>; default?: unknown; anyOf?: JsonSchema[] };

function fields(schema: JsonSchema, prefix = ''): Map<string, JsonSchema> {
  const out = new Map<string, JsonSchema>();
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const path = prefix + name;
    if (child.properties) for (const [p, s] of fields(child, `${path}.`)) out.set(p, s);
    else out.set(path, child);
  }
  return out;
}

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
const rows = new Map(
  [...readme.matchAll(/^\|\s*`([a-zA-Z.]+)`\s*\|([^\n]*)$/gm)].map((m) => [
    m[1]!,
    m[2]!.split('|').map((c) => c.trim()),
  ]),
);
const schemaFields = fields(configJsonSchema() as JsonSchema);

it('README documents every field of the schema with its default', () => {
  for (const [path, schema] of schemaFields) {
    const row = rows.get(path);
    assert.ok(row, `README.md has no row for \`${path}\``);
    const documentedDefault = row[1];
    if (
      typeof schema.default === 'number' ||
      typeof schema.default === 'boolean' ||
      typeof schema.default === 'string'
    ) {
      assert.equal(documentedDefault, `\`${JSON.stringify(schema.default)}\``, `default of ${path}`);
    }
  }
});

it('README documents no field the schema lacks', () => {
  for (const path of rows.keys())
    assert.ok(schemaFields.has(path), `README.md documents \`${path}\`, which the schema does not have`);
});
