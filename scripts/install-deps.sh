#!/usr/bin/env bash
# Install the Debian packages varibased builds and tests with. Idempotent: when
# every package is present it only runs dpkg -s and returns.
#   scripts/install-deps.sh               to build and test (make deps)
#   scripts/install-deps.sh --build-only  to build ./learner and ./actor only (images)
# python3-dev: CPython's embedding library, for the Python task-family bridge (plugins/python)
set -euo pipefail
pkgs=(build-essential pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
      libuv1-dev libopenblas-dev libcyaml-dev python3-dev)
# the tests: Criterion, iproute2 (the network-namespace test), docker-compose
# (validating deploy/docker-compose.yml; containers are not started) and
# matplotlib (scripts/plot_runs.py and the other plotting scripts), clang with
# libFuzzer (the fuzz harnesses of tests/fuzz)
[ "${1:-}" = "--build-only" ] || pkgs+=(libcriterion-dev iproute2 docker-compose python3-matplotlib clang libclang-rt-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#pkgs[@]} packages present"
    exit 0
fi
echo "deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
