#!/usr/bin/env bash
# Runs every check and test of the repository; exits non-zero on any failure.
# Installs what the end-to-end tests need when it is missing: Debian's `prometheus` package
# (Prometheus 2.42 and promtool), the reference the compatibility tests compare against.
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

install_prometheus() {
  if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    return
  fi
  log "installing Debian's prometheus package (reference server and promtool)"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo -n"
  fi
  # The package's postinst would start a system Prometheus on :9090; policy-rc.d forbids
  # starting services for the duration of the install (exit 101 = action not allowed).
  local policy=/usr/sbin/policy-rc.d created_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    created_policy=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus
  if [ -n "$created_policy" ]; then
    $sudo rm -f "$policy"
  fi
  # Belt and braces: where an init system started the packaged service anyway, stop it.
  $sudo service prometheus stop >/dev/null 2>&1 || true
  prometheus --version 2>&1 | head -1
}

install_prometheus

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --all-targets -- -D warnings

log "cargo build"
cargo build --bins --tests

log "cargo test"
output="$(mktemp)"
trap 'rm -f "$output"' EXIT
status=0
cargo test --no-fail-fast 2>&1 | tee "$output" || status=$?

log "summary"
# libtest binaries: "test result: ok. N passed; M failed; …"
counts=$(awk '/^test result:/ {
    for (i = 1; i <= NF; i++) {
      if ($(i) ~ /^passed/) passed += $(i - 1)
      if ($(i) ~ /^failed/) failed += $(i - 1)
    }
  } END { printf "%d passed, %d failed", passed, failed }' "$output")
# The harness-less suites print their own counts.
grep -E '^(promql scripts|prometheus diff): [0-9]+ passed' "$output" || true
echo "rust tests: $counts"
if [ "$status" -ne 0 ]; then
  echo "FAILED (cargo test exit status $status)"
  exit "$status"
fi
echo "all checks passed"
