#!/bin/sh
# Installs the Debian packages Slipway builds, runs and tests with, and pytest.
# Idempotent and fast when nothing is missing: one dpkg-query for the whole
# list, apt only for what is absent. Prints one line per action.
set -eu

PKGS="build-essential pkg-config protobuf-c-compiler libprotobuf-c-dev
librdkafka-dev libevent-dev libhiredis-dev libpq-dev libcurl4-openssl-dev
libjansson-dev libyaml-dev libsodium-dev libcmocka-dev postgresql redis-server
docker-registry apache2-utils skopeo umoci busybox-static podman runc catatonit
uidmap fuse-overlayfs slirp4netns haproxy socat maven curl ca-certificates
clang libclang-rt-14-dev tzdata python3-cryptography openssl etcd-server
python3-yaml nginx chromium chromium-driver wrk kcat postgresql-contrib"

say() { printf 'setup: %s\n' "$*"; }

# java_ok succeeds when a Java >= 17 is on PATH (Kafka 3.9 would run on 8+,
# but the CI machines and the docs assume 17).
java_ok() {
	command -v java >/dev/null 2>&1 || return 1
	v=$(java -version 2>&1 | sed -n '1s/.*version "\([0-9][0-9]*\)[."].*/\1/p')
	[ -n "$v" ] && [ "$v" -ge 17 ]
}

# missing_pkgs prints the packages of $1 that dpkg does not list as installed.
missing_pkgs() {
	installed=$(dpkg-query -W -f='${Package} ${Status}\n' $1 2>/dev/null |
		awk '$NF == "installed" { print $1 }')
	for p in $1; do
		case " $(echo $installed) " in
		*" $p "*) ;;
		*) printf '%s ' "$p" ;;
		esac
	done
}

# as_root runs a command as root: directly, or through sudo when available.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo DEBIAN_FRONTEND=noninteractive "$@"
	else
		say "not root and no sudo: install as root: $*" >&2
		exit 1
	fi
}

# node_ok succeeds when a Node.js >= 18 with npm is on PATH (the console's
# build, services/console).
node_ok() {
	command -v npm >/dev/null 2>&1 || return 1
	v=$(node --version 2>/dev/null | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p')
	[ -n "$v" ] && [ "$v" -ge 18 ]
}

install_packages() {
	if ! command -v dpkg-query >/dev/null 2>&1; then
		say "no dpkg-query: not a Debian system, skipping packages"
		return 0
	fi
	want=$PKGS
	java_ok || want="$want openjdk-17-jre-headless"
	node_ok || want="$want nodejs npm"
	missing=$(missing_pkgs "$want")
	if [ -z "$missing" ]; then
		say "all $(echo $want | wc -w) packages present"
		return 0
	fi
	say "installing: $missing"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	# shellcheck disable=SC2086 # word splitting of the list is intended
	as_root apt-get install -y -qq --no-install-recommends $missing
	say "installed: $missing"
}

# ensure_py MODULE PACKAGE installs a Python package with pip (--user) when
# python3 cannot import MODULE: pytest for the tests, selenium to drive
# Debian's chromium-driver in the console's browser tests.
ensure_py() {
	if python3 -c "import $1" >/dev/null 2>&1; then
		say "$2 present"
		return 0
	fi
	say "installing $2 (pip --user)"
	python3 -m pip install --user -q "$2" ||
		python3 -m pip install --user -q --break-system-packages "$2"
	python3 -c "import $1" >/dev/null 2>&1 || {
		say "$2 still not importable by python3" >&2
		exit 1
	}
}

install_packages
ensure_py pytest pytest
ensure_py selenium selenium
