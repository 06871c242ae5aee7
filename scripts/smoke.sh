#!/usr/bin/env bash
# Starts the built server the way production does and checks it from outside: embedded, then on
# PostgreSQL + Redis (when TEST_DATABASE_URL / TEST_REDIS_URL are set), then with a bad configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
port=3199
data_dir=$(mktemp -d)
trap 'rm -rf "$data_dir"' EXIT

wait_for() {
	for _ in $(seq 60); do
		curl -fsS "$1" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "smoke: $1 did not answer" >&2
	return 1
}

run_server() {
	local label=$1
	shift
	env "$@" PORT=$port HOST=127.0.0.1 node server.js >"$data_dir/$label.log" 2>&1 &
	local pid=$!
	wait_for "http://127.0.0.1:$port/healthz" || { cat "$data_dir/$label.log"; return 1; }
	local ready
	ready=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
	local landing
	landing=$(curl -sS "http://127.0.0.1:$port/")
	kill -TERM "$pid"
	local status=0
	wait "$pid" || status=$?
	if [ "$ready" != 200 ] || [ "$status" != 0 ] || ! grep -q '>AWE</h1>' <<<"$landing"; then
		echo "smoke ($label): readyz=$ready exit=$status" >&2
		cat "$data_dir/$label.log" >&2
		return 1
	fi
	echo "smoke ($label): /healthz 200, /readyz 200, landing page served, clean exit on SIGTERM"
}

run_server embedded DATA_DIR="$data_dir/data"
# A second start on the same data directory must find its data and key again.
run_server embedded-restart DATA_DIR="$data_dir/data"

if [ -n "${TEST_DATABASE_URL:-}" ]; then
	smoke_db="awe_smoke_$$"
	psql "$TEST_DATABASE_URL" -qc "create database $smoke_db"
	trap 'psql "$TEST_DATABASE_URL" -qc "drop database if exists $smoke_db with (force)"; rm -rf "$data_dir"' EXIT
	run_server postgres DATABASE_URL="${TEST_DATABASE_URL%/*}/$smoke_db" REDIS_URL="${TEST_REDIS_URL:-}" \
		AWE_SECRET_KEY="smoke-test-secret-key-0123456789abcdef"
fi

status=0
output=$(DATABASE_URL='postgres//broken' node server.js 2>&1) || status=$?
if [ "$status" = 0 ] || [ "$(wc -l <<<"$output")" != 1 ] || ! grep -q DATABASE_URL <<<"$output"; then
	echo "smoke (bad config): expected a one-line error and a non-zero exit, got $status: $output" >&2
	exit 1
fi
echo "smoke (bad config): exit $status with: $output"
