#!/usr/bin/env node
// Regenerates schema/pop3-service.schema.json from the built schema package, or with --check
// fails when the committed file is stale (the test command runs the check).
//   npm run gen:json-schema -w schema
'use strict';
const { join } = require('node:path');
const { configJsonSchema } = require('@pop3-iac/schema');
const { writeOrCheck } = require('./generated-file');

const target = join(__dirname, '..', 'schema', 'pop3-service.schema.json');
const state = writeOrCheck(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
if (state === 'stale') {
  console.error(`${target} is stale: run "npm run gen:json-schema -w schema" and commit it`);
  process.exit(1);
}
console.log(state === 'fresh' ? `${target} is up to date` : `wrote ${target}`);
