#!/usr/bin/env bash
# Install the Debian 12 packages ztp-lab needs (build, tests, real peers). Idempotent and quiet:
# apt-get runs only when something is missing. Usage: scripts/deps.sh
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  # libraries
  libcunit1-dev libjansson-dev libssl-dev libmicrohttpd-dev libmnl-dev libyaml-dev libtss2-dev libtpms-dev uthash-dev
  # lab plumbing and real peers for interoperability tests
  iproute2 tcpdump tshark dnsmasq-base isc-dhcp-client busybox curl jq kea-admin squid
  swtpm swtpm-tools tpm2-tools kea-dhcp4-server tinyproxy openssl libxml2-utils
  # the report test renders report.html headless (offline)
  chromium
  # fault scenarios (packet loss on a segment) and the valgrind run
  nftables valgrind
  # hex dumps in the conductor integration test
  xxd
  # the TLS benchmark (tests/bench/tls-bench.sh) compares the mocks with nginx
  nginx-light
  # the docker/ examples test reads their YAML
  python3-yaml
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ztp-lab: missing packages (${missing[*]}) and no apt-get here: this needs Debian 12 or the docker/ image." >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ztp-lab: missing packages (${missing[*]}); run as root (sudo) so they can be installed with apt-get." >&2
  exit 1
fi
echo "ztp-lab: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/ztp-deps.XXXXXX)
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  echo "ztp-lab: apt-get could not install ${missing[*]}; its last lines:" >&2
  tail -n 5 "$log" >&2
  exit 1
fi
rm -f "$log"
