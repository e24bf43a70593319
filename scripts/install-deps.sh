#!/usr/bin/env bash
# Installs the npm dependencies from package-lock.json.
# `npm ci` first. Some registry mirrors lack other platforms' optional binaries (e.g. biome's or rollup's
# darwin builds); npm then writes a lock without them and `npm ci` refuses that lock as out of sync.
# In that case install from the same lock with `npm install`, which keeps every version it pins.
set -euo pipefail
cd "$(dirname "$0")/.."
if npm ci --no-audit --no-fund --loglevel=error; then
  exit 0
fi
echo "npm ci refused the lock file (see above); installing from it with npm install instead" >&2
npm install --no-audit --no-fund --loglevel=error
