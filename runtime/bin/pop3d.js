#!/usr/bin/env node
'use strict';
require('../dist/src/cli/pop3d.js')
  .main()
  .catch((error) => {
    process.stderr.write(`pop3d: ${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  });
