/**
 * Regenerates schema/pop3-service.schema.json, or with --check fails when the
 * committed file is stale (the test command runs the check).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configJsonSchema } from './json-schema';

const target = join(__dirname, '..', '..', 'pop3-service.schema.json');
const fresh = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (committed !== fresh) {
    console.error(`${target} is stale: run "npm run gen:json-schema -w schema" and commit it`);
    process.exit(1);
  }
  console.log(`${target} is up to date`);
} else {
  writeFileSync(target, fresh);
  console.log(`wrote ${target}`);
}
