#!/usr/bin/env bash
# Installs the npm dependencies exactly as package-lock.json pins them.
# The lock lists every platform's optional binaries (biome, rollup, esbuild), so `npm ci` accepts it on any
# machine; if it ever refuses, regenerate the lock with `npm install` and commit it rather than working around it.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --loglevel=error
