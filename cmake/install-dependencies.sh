#!/usr/bin/env bash
# Installs, on Debian 12 or Ubuntu 22.04+, whatever the build, the tests and the service need and is missing.
# Idempotent: packages already installed are left alone. On other systems, install the equivalents of the
# packages listed below (a C++20 compiler, CMake >= 3.25, and the libraries), or let CMake fetch the
# header-only ones with FetchContent.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git       # toolchain
  libfmt-dev catch2 libbenchmark-dev           # core, tests, benchmarks
  libsqlite3-dev libsqlitecpp-dev              # allocation::sqlite
  libhiredis-dev redis-server                  # allocation::redis and its end-to-end tests
  libcurl4-openssl-dev python3-aiosmtpd        # allocation::email and its end-to-end tests (an SMTP server)
  libpqxx-dev postgresql                       # allocation::postgres and its tests (a cluster they start)
  python3 python3-prometheus-client            # the end-to-end test that parses /metrics
  libboost1.81-dev nlohmann-json3-dev libcli11-dev  # the service (Boost.Beast, Asio) and the CSV job
)
packages+=("$@")  # extra packages a caller needs (CI adds clang)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "This script knows Debian's apt only. Please install the equivalents of: ${packages[*]}" >&2
  exit 1
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "All build dependencies are installed."
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "Installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
