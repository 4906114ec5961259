#!/bin/sh
# Builds a real kube-apiserver for the Kubernetes runtime's tests, once, into
# ~/.cache/slipway/kube-apiserver-$VERSION/, and installs Debian's etcd-server
# when it is missing. Prints the binary's path on the last line of stdout.
#
# k8s.io/kubernetes is not meant to be required as a module: its go.mod points
# every k8s.io/* staging module at ./staging/…, which a module download does not
# carry. A throwaway module that requires it and replaces each of those with
# the published release of the same minor (v0.MINOR.PATCH) builds
# cmd/kube-apiserver from the Go module proxy alone (see RUNTIME-NOTES.md).
# 4 minutes on 2 idle cores the first time (16 on a busy machine); a no-op
# afterwards. What stays: the binary (114 MB stripped) and the modules in
# Go's module cache (~550 MB); the build cache is private and removed.
set -eu

VERSION=${SLIPWAY_KUBE_VERSION:-v1.37.2}
CACHE=${SLIPWAY_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway/kube-apiserver-$VERSION}
BIN=$CACHE/kube-apiserver

say() { printf 'kube-apiserver.sh: %s\n' "$*" >&2; }

ensure_etcd() {
	command -v etcd >/dev/null 2>&1 && return 0
	[ -x /usr/bin/etcd ] && return 0
	say "installing etcd-server (Debian)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends etcd-server >&2
}

find_go() {
	for g in go /usr/local/go/bin/go /usr/lib/go/bin/go; do
		if command -v "$g" >/dev/null 2>&1; then
			command -v "$g"
			return 0
		fi
	done
	say "no Go toolchain found (need Go >= the 'go' line of k8s.io/kubernetes $VERSION's go.mod)"
	exit 1
}

# write_module writes the go.mod of the throwaway module into $1.
write_module() {
	dir=$1
	go=$2
	minor=$(echo "$VERSION" | sed 's/^v1\./v0./')
	modfile=$(cd "$dir" && GOFLAGS=-mod=mod "$go" mod download -json "k8s.io/kubernetes@$VERSION" |
		sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	[ -f "$modfile" ] || { say "could not download k8s.io/kubernetes@$VERSION's go.mod"; exit 1; }
	gover=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$modfile")
	{
		echo "module slipway.local/kubeapiserver"
		echo
		echo "go $gover"
		echo
		echo "require k8s.io/kubernetes $VERSION"
		echo
		echo "replace ("
		sed -n 's|^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => \./staging/.*$|\1|p' "$modfile" |
			while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$minor"; done
		echo ")"
	} >"$dir/go.mod"
	n=$(grep -c '=> k8s.io/' "$dir/go.mod")
	say "module with $n staging replaces (go $gover, staging $minor)"
}

build() {
	go=$(find_go)
	mkdir -p "$CACHE"
	src=$CACHE/src
	rm -rf "$src" && mkdir -p "$src"
	echo "module slipway.local/kubeapiserver" >"$src/go.mod"
	write_module "$src" "$go"
	say "building k8s.io/kubernetes/cmd/kube-apiserver $VERSION with $($go version) (a few minutes, once)"
	start=$(date +%s)
	(
		cd "$src"
		export GOFLAGS="-mod=mod -buildvcs=false"
		export CGO_ENABLED=0
		export GOCACHE="$CACHE/gocache"
		nice "$go" build -trimpath -ldflags="-s -w" -o "$BIN.tmp" k8s.io/kubernetes/cmd/kube-apiserver
	)
	mv "$BIN.tmp" "$BIN"
	rm -rf "$CACHE/gocache"
	say "built in $(($(date +%s) - start)) s: $BIN ($(du -h "$BIN" | cut -f1))"
}

ensure_etcd
if [ ! -x "$BIN" ] || ! "$BIN" --version >/dev/null 2>&1; then
	build
fi
echo "$BIN"
