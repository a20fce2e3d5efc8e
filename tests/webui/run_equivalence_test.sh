#!/bin/sh
# Runs equivalence_test.mjs: the same scripted conversation against ADK-TS's
# own `adk api_server` (@google/adk-devtools, pinned in package.json /
# package-lock.json, installed by `make peers`) and against adk-server; the
# event streams and sessions are compared field by field.
#   run_equivalence_test.sh ADK_SERVER
# Never skipped: missing packages are a failure that names the fix.
set -eu
server=$1
here=$(cd "$(dirname "$0")" && pwd)
for pkg in @google/adk @google/adk-devtools; do
    if [ ! -d "$here/node_modules/$pkg" ]; then
        echo "tests/webui/node_modules/$pkg is missing: run 'make peers' (or scripts/install-peers.sh tests/webui)" >&2
        exit 1
    fi
done
cd "$here"
exec node equivalence_test.mjs "$server"
