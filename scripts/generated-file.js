// What the generators (generate-json-schema.js, generate-crlf-kernel.js) share: a generated file
// is committed, written by the generator and, with --check, compared instead (the test command).
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');

/**
 * Without --check in the arguments: writes `text` to `target` and says 'written'. With it: 'fresh' when
 * `target` holds `text`, 'stale' when it does not or is missing.
 */
function writeOrCheck(target, text) {
  if (!process.argv.includes('--check')) {
    writeFileSync(target, text);
    return 'written';
  }
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    // missing counts as stale
  }
  return committed === text ? 'fresh' : 'stale';
}

module.exports = { writeOrCheck };
