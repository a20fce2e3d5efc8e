#!/usr/bin/env bash
# TCP echo suite (issue 7), with callgrind instruction counts per round trip.
exec env ECHO_CALLGRIND=${ECHO_CALLGRIND:-1} bash "$(dirname "$0")/echo/run.sh" "$@"
