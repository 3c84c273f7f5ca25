// Load with NODE_OPTIONS="--require ./loadtest/artillery-offline.js" to keep
// Artillery from calling home. Up to 2.0.21 (the last release for Node.js 20)
// it sends an "anonymized" test-run event even with
// ARTILLERY_DISABLE_TELEMETRY set, and waits for it at exit (seconds on a
// machine without Internet access). Without its analytics client it falls
// back to doing nothing; from 2.0.22 (Node.js 22) the variable alone is enough.
'use strict';

const Module = require('node:module');

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'posthog-node') {
    const err = new Error('telemetry is off');
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  }
  return resolveFilename.call(this, request, ...rest);
};
