#!/usr/bin/env bash
# Installs what is missing, builds in Release, and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."

bash cmake/install-dependencies.sh
cmake --preset release >/dev/null
cmake --build --preset release --target allocation_quickstart
exec ./build/release/examples/quickstart/quickstart "$@"
