#!/usr/bin/env bash
# The browser test of ADK's dev UI (docs/web-ui.md):
#   run_webui_test.sh SERVER WORK_DIR SCREENSHOT [EXTRA_SERVER_ARGS...]
# SERVER is adk-server (with --web) or the test's own webui_server: it is
# started as `SERVER --port 0 --web --script webui_script.json EXTRA...`,
# serving the app hello_agent (tool add, a scripted model) and the UI from
# @google/adk-devtools installed here by `npm ci` into WORK_DIR (once, again
# when package-lock.json changes; ADK_WEB_UI_DIR points the server at it).
# Then webui_test.mjs drives Debian's chromium through the UI and saves
# SCREENSHOT. The server is stopped at the end, whatever happened.
# Never skipped: a missing tool or package is a failure that names the fix
# (`make peers` installs the npm packages into tests/browser/node_modules).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: run_webui_test.sh SERVER WORK_DIR SCREENSHOT [EXTRA_SERVER_ARGS...]" >&2
    exit 2
fi
server=$1
work=$2
screenshot=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}

command -v node >/dev/null 2>&1 || { echo "node not found: run scripts/install-deps.sh" >&2; exit 1; }
[ -x "$chromium" ] || { echo "$chromium not found: run scripts/install-deps.sh (apt-get install chromium)" >&2; exit 1; }
[ -x "$server" ] || { echo "server program not found: $server" >&2; exit 1; }
[ -d "$here/node_modules/puppeteer-core" ] || { echo "tests/browser/node_modules is missing: run 'make peers'" >&2; exit 1; }

mkdir -p "$work" "$(dirname "$screenshot")"
work=$(cd "$work" && pwd)
screenshot="$(cd "$(dirname "$screenshot")" && pwd)/$(basename "$screenshot")"
server=$(cd "$(dirname "$server")" && pwd)/$(basename "$server")
ui_dir="$here/node_modules/@google/adk-devtools/dist/browser"
[ -f "$ui_dir/index.html" ] || { echo "no index.html in $ui_dir: run 'make peers'" >&2; exit 1; }

# Start the server on a free port; its first line says where it listens.
log="$work/server.log"
: >"$log"   # emptied here: the child's own redirection may come after the first read below
ADK_WEB_UI_DIR="$ui_dir" "$server" --port 0 --web --script "$here/webui_script.json" "$@" >"$log" 2>&1 &
server_pid=$!
stop_server() {
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
}
trap stop_server EXIT

url=""
for _ in $(seq 300); do
    url=$(sed -n 's/^listening on \(http:\/\/[^ ]*\).*/\1/p' "$log" | head -n1)
    [ -n "$url" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the server exited before listening:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "the server did not print 'listening on' within 30 s:" >&2
    cat "$log" >&2
    exit 1
fi
echo "server: $url (log: $log)"

status=0
CHROMIUM="$chromium" node "$here/webui_test.mjs" "$url" "$screenshot" || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- server log ---" >&2
    tail -n 50 "$log" >&2
fi
exit "$status"
