#!/bin/sh
# Runs adk_api_client_test.mjs (ADK's AdkApiClient against adk-server) with
# the npm packages pinned in this folder, installed by `make peers`
# (scripts/install-peers.sh: npm ci from the committed lockfile).
#   run_adk_api_client_test.sh ADK_SERVER
# Never skipped: missing packages are a failure that names the fix.
set -eu
server=$1
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node_modules/@google/adk-devtools" ]; then
    echo "tests/webui/node_modules is missing: run 'make peers' (or scripts/install-peers.sh tests/webui)" >&2
    exit 1
fi
cd "$here"
exec node adk_api_client_test.mjs "$server"
