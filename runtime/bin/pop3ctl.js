#!/usr/bin/env node
'use strict';
require('../dist/src/cli/pop3ctl.js')
  .main()
  .then((code) => process.exit(code))
  .catch((error) => {
    process.stderr.write(`pop3ctl: ${error && error.stack ? error.stack : error}\n`);
    process.exit(7);
  });
