#!/usr/bin/env bash
# Builds the demo image (busybox httpd serving "hello from slipway demo vN")
# without Docker, with umoci, and pushes demo/hello:v1 and :v2 with skopeo.
# File times and the creation date are fixed, so the digests are the same on
# every machine with the same busybox. Tags already in the registry are
# skipped.
#
# Environment: SLIPWAY_STATE, SLIPWAY_REGISTRY_HOST (host:port),
# SLIPWAY_REGISTRY_USER, SLIPWAY_REGISTRY_PASSWORD; DEMO_TAGS (default "v1 v2").
set -euo pipefail

STATE=${SLIPWAY_STATE:-.state}
HOST=${SLIPWAY_REGISTRY_HOST:?SLIPWAY_REGISTRY_HOST is required}
USER_=${SLIPWAY_REGISTRY_USER:-}
PASS=${SLIPWAY_REGISTRY_PASSWORD:-}
REPO=demo/hello
WORK=$STATE/demo
BUSYBOX=${BUSYBOX:-/bin/busybox}
# Listens on every address of its own network namespace, as images on every
# container platform must: the agent publishes the port on 127.0.0.1.
CMD='exec httpd -f -p 0.0.0.0:${PORT:-8080} -h /www'

say() { printf 'demo-image: %s\n' "$*"; }

case $(uname -m) in
x86_64) ARCH=amd64 ;;
aarch64) ARCH=arm64 ;;
*) ARCH=$(uname -m) ;;
esac

# An auth file keeps the password off the process list (skopeo --creds would
# show it in ps).
write_authfile() {
	mkdir -p "$WORK"
	local auth=""
	[[ -n $USER_ ]] && auth=$(printf '%s:%s' "$USER_" "$PASS" | base64 -w0)
	(umask 077 && printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$HOST" "$auth" >"$WORK/auth.json")
}

pushed() {
	skopeo inspect --raw --tls-verify=false --authfile "$WORK/auth.json" \
		"docker://$HOST/$REPO:$1" >/dev/null 2>&1
}

# build TAG makes oci layout tag TAG from an empty base: one layer holding
# busybox (sh, httpd) and /www/index.html.
build() {
	local tag=$1 bundle=$WORK/bundle-$1 root
	rm -rf "$bundle"
	umoci new --image "$WORK/oci:base-$tag"
	umoci unpack --rootless --image "$WORK/oci:base-$tag" "$bundle" >/dev/null
	root=$bundle/rootfs
	mkdir -p "$root/bin" "$root/www"
	cp "$BUSYBOX" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	ln -s busybox "$root/bin/httpd"
	echo "hello from slipway demo $tag" >"$root/www/index.html"
	chmod 0755 "$root/bin/busybox" "$root/www"
	chmod 0644 "$root/www/index.html"
	find "$root" -exec touch -h -d @0 {} +
	umoci --log=error repack --no-history --image "$WORK/oci:$tag" "$bundle"
	umoci --log=error config --no-history --created 1970-01-01T00:00:00Z --image "$WORK/oci:$tag" \
		--config.cmd /bin/sh --config.cmd -c --config.cmd "$CMD" \
		--config.env PATH=/bin --architecture "$ARCH" --os linux
	umoci rm --image "$WORK/oci:base-$tag"
	rm -rf "$bundle"
}

push() {
	skopeo copy -q --dest-tls-verify=false --dest-authfile "$WORK/auth.json" \
		"oci:$WORK/oci:$1" "docker://$HOST/$REPO:$1"
}

main() {
	[[ -x $BUSYBOX ]] || { say "no $BUSYBOX (install busybox-static)" >&2; exit 1; }
	write_authfile
	local tag todo=()
	for tag in ${DEMO_TAGS:-v1 v2}; do
		pushed "$tag" || todo+=("$tag")
	done
	if ((${#todo[@]} == 0)); then
		say "$HOST/$REPO:{${DEMO_TAGS:-v1 v2}} already pushed"
		return 0
	fi
	rm -rf "$WORK/oci"
	umoci init --layout "$WORK/oci"
	for tag in "${todo[@]}"; do
		build "$tag"
		push "$tag"
		say "pushed $HOST/$REPO:$tag"
	done
}

main
