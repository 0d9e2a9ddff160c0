#!/usr/bin/env bash
# Installs the Debian packages tiersync needs to build, test and run.
# As root it runs apt-get; otherwise it prints the command and stops.
set -euo pipefail

pkgs=(gcc make cmake pkg-config sqlite3 libsqlite3-dev libuv1-dev libssl-dev
      openssl libmsgpack-dev libinih-dev libjansson-dev iproute2 procps
      libmicrohttpd-dev python3 python3-selenium chromium chromium-driver
      fonts-wqy-zenhei clang libclang-rt-14-dev iptables faketime)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "tiersync needs these Debian packages: ${missing[*]}" >&2
	echo "run as root:  $cmd" >&2
	exit 1
fi
echo "setup: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
