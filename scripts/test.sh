#!/usr/bin/env bash
# Install everything the test suite needs on a bare Debian machine, then run it.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # headless browser tests of the HTML reports
# servers "already on the machine" for the local backend's --service-url tests (never started as services)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  (dockerd >/tmp/grader-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not come up; see /tmp/grader-dockerd.log" >&2; exit 1; }
fi

log "installing grader with its dev extras into .venv"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'

log "base, build and service images (offline bootstrap when missing)"
.venv/bin/grader sandbox bootstrap --offline --if-missing --builder --service postgres --service redis

log "running the test suite: every group (tests/unit, network, docker, browser, adversarial; docs/architecture.md, Tests)"
exec .venv/bin/python -m pytest "$@"
