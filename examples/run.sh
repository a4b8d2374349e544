#!/usr/bin/env bash
# Installs what is missing, builds in Release, and runs the main job: the allocation service over HTTP on
# 127.0.0.1:5005, storing its data in ./allocation.db (SQLite). Arguments go to the server
# (e.g. --port 8080, --db other.db, --memory, --redis 127.0.0.1:6379); see --help.
set -euo pipefail
cd "$(dirname "$0")/.."

bash cmake/install-dependencies.sh
cmake --preset release >/dev/null
cmake --build --preset release --target allocation_server allocation_cli allocation_quickstart
exec ./build/release/examples/server/allocation-server "$@"
