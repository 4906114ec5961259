#!/usr/bin/env bash
# The front door: nginx in front of the four HTTP services and the console,
# rendered from deploy/frontdoor/nginx.conf.template (the one routing table).
#
#   scripts/frontdoor.sh [run]   render, `nginx -t`, then nginx in the foreground
#   scripts/frontdoor.sh check   render and `nginx -t` only
#   scripts/frontdoor.sh render  print the rendered nginx.conf
#   scripts/frontdoor.sh k8s     print deploy/k8s/frontdoor-config.yaml (the
#                                ConfigMap the Kubernetes front door mounts)
#
# Settings (environment):
#   SLIPWAY_FRONTDOOR_LISTEN        address:port to listen on (127.0.0.1:8000)
#   SLIPWAY_FRONTDOOR_REGISTRY_URL  registry-svc   (http://127.0.0.1:8081)
#   SLIPWAY_FRONTDOOR_COMPONENT_URL component-svc  (http://127.0.0.1:8082)
#   SLIPWAY_FRONTDOOR_DEPLOY_URL    deploy-svc     (http://127.0.0.1:8083)
#   SLIPWAY_FRONTDOOR_WEBHOOK_URL   webhook-ingress (http://127.0.0.1:8080)
#   SLIPWAY_FRONTDOOR_CONSOLE_DIR   the console's files, served at /
#                                   (${SLIPWAY_BUILD:-build}/console)
#   SLIPWAY_FRONTDOOR_STATE_DIR     config, pid and temp files (.state/frontdoor)
#   SLIPWAY_FRONTDOOR_TRUSTED_PROXIES  comma list of addresses/CIDRs of a
#                                   proxy in front (an Ingress controller, a
#                                   load balancer) whose X-Forwarded-For is
#                                   believed; empty: nobody's (the default)
#   SLIPWAY_FRONTDOOR_MIME_TYPES    nginx's mime.types (/etc/nginx/mime.types)
#   SLIPWAY_FRONTDOOR_NGINX         the nginx binary (nginx on PATH, else
#                                   /usr/sbin/nginx)
# Runs as any user: everything nginx writes is under the state dir.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
TEMPLATE=${SLIPWAY_FRONTDOOR_TEMPLATE:-$REPO/deploy/frontdoor/nginx.conf.template}

die() { printf 'frontdoor: error: %s\n' "$*" >&2; exit 1; }

# host:port of an http:// URL (no path, no https: the services speak plain
# HTTP inside the platform's network); dies naming the variable otherwise.
upstream_of() {
	local name=$1 url=$2 hostport
	[[ $url =~ ^http://([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})/?$ ]] ||
		die "$name must be http://HOST:PORT (got '$url')"
	hostport=${url#http://}
	printf '%s' "${hostport%/}"
}

# The listen address: PORT, HOST:PORT or [V6]:PORT.
check_listen() {
	[[ $1 =~ ^(([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):)?[0-9]{1,5}$ ]] ||
		die "SLIPWAY_FRONTDOOR_LISTEN must be [HOST:]PORT (got '$1')"
}

# A path that goes into the config as it is: nothing nginx or the sed
# that renders it would read as syntax (space, quote, brace, ';', '#', '|',
# '&', backslash).
check_path() {
	[[ -n $2 && ! $2 =~ [[:space:]\;\"\'\{\}\#\|\&\\] ]] ||
		die "$1 must be a path without spaces, quotes, braces or any of ;#|&\\ (got '$2')"
}

# set_real_ip_from lines for SLIPWAY_FRONTDOOR_TRUSTED_PROXIES.
real_ip_lines() {
	local list=$1 p
	[[ -z $list ]] && return 0
	IFS=',' read -ra items <<<"$list"
	for p in "${items[@]}"; do
		p=${p// /}
		[[ -z $p ]] && continue
		[[ $p =~ ^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$ ]] ||
			die "SLIPWAY_FRONTDOOR_TRUSTED_PROXIES: '$p' is not an address or CIDR"
		printf '        set_real_ip_from %s;\\n' "$p"
	done
	printf '        real_ip_header X-Forwarded-For;\\n        real_ip_recursive on;\\n'
}

load_settings() {
	LISTEN=${SLIPWAY_FRONTDOOR_LISTEN:-127.0.0.1:8000}
	REGISTRY=$(upstream_of SLIPWAY_FRONTDOOR_REGISTRY_URL \
		"${SLIPWAY_FRONTDOOR_REGISTRY_URL:-http://127.0.0.1:8081}")
	COMPONENT=$(upstream_of SLIPWAY_FRONTDOOR_COMPONENT_URL \
		"${SLIPWAY_FRONTDOOR_COMPONENT_URL:-http://127.0.0.1:8082}")
	DEPLOY=$(upstream_of SLIPWAY_FRONTDOOR_DEPLOY_URL \
		"${SLIPWAY_FRONTDOOR_DEPLOY_URL:-http://127.0.0.1:8083}")
	WEBHOOK=$(upstream_of SLIPWAY_FRONTDOOR_WEBHOOK_URL \
		"${SLIPWAY_FRONTDOOR_WEBHOOK_URL:-http://127.0.0.1:8080}")
	CONSOLE=${SLIPWAY_FRONTDOOR_CONSOLE_DIR:-$REPO/${SLIPWAY_BUILD:-build}/console}
	STATE=${SLIPWAY_FRONTDOOR_STATE_DIR:-$REPO/.state/frontdoor}
	MIME=${SLIPWAY_FRONTDOOR_MIME_TYPES:-/etc/nginx/mime.types}
	REAL_IP=$(real_ip_lines "${SLIPWAY_FRONTDOOR_TRUSTED_PROXIES:-}")
	check_listen "$LISTEN"
	check_path SLIPWAY_FRONTDOOR_CONSOLE_DIR "$CONSOLE"
	check_path SLIPWAY_FRONTDOOR_STATE_DIR "$STATE"
	check_path SLIPWAY_FRONTDOOR_MIME_TYPES "$MIME"
	[[ -r $TEMPLATE ]] || die "no template at $TEMPLATE"
}

# The template with every @NAME@ filled; dies if one is left.
render() {
	local out
	out=$(sed -e "s|@LISTEN@|$LISTEN|g" -e "s|@REGISTRY@|$REGISTRY|g" \
		-e "s|@COMPONENT@|$COMPONENT|g" -e "s|@DEPLOY@|$DEPLOY|g" \
		-e "s|@WEBHOOK@|$WEBHOOK|g" -e "s|@CONSOLE@|$CONSOLE|g" \
		-e "s|@STATE@|$STATE|g" -e "s|@MIME_TYPES@|$MIME|g" \
		-e "s|^@REAL_IP@\$|${REAL_IP%\\n}|" "$TEMPLATE")
	if grep -q '@[A-Z_]*@' <<<"$out"; then
		die "unfilled marker in $TEMPLATE: $(grep -o '@[A-Z_]*@' <<<"$out" | head -1)"
	fi
	printf '%s\n' "$out"
}

find_nginx() {
	NGINX=${SLIPWAY_FRONTDOOR_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
	[[ -x $NGINX ]] || die "no nginx at $NGINX (scripts/setup.sh installs it)"
}

# Renders into the state dir and runs `nginx -t` on it.
prepare() {
	find_nginx
	mkdir -p "$STATE/tmp" || die "cannot create $STATE"
	render >"$STATE/nginx.conf.new"
	mv "$STATE/nginx.conf.new" "$STATE/nginx.conf"
	local out
	if ! out=$("$NGINX" -t -q -e stderr -p "$STATE" -c "$STATE/nginx.conf" 2>&1); then
		printf '%s\n' "$out" >&2
		die "nginx -t refused $STATE/nginx.conf (rendered from $TEMPLATE)"
	fi
}

# The Kubernetes rendering: service names of deploy/k8s, all interfaces,
# paths of the front door's pod (deploy/k8s/frontdoor.yaml).
k8s_configmap() {
	LISTEN=8000 REGISTRY=registry-svc:8081 COMPONENT=component-svc:8082
	DEPLOY=deploy-svc:8083 WEBHOOK=webhook-ingress:8080
	CONSOLE=/srv/console STATE=/var/run/slipway-frontdoor
	MIME=/etc/nginx/mime.types
	# The Ingress controller is in front: its X-Forwarded-For is believed
	# from the private ranges pods get addresses in, unless
	# SLIPWAY_FRONTDOOR_TRUSTED_PROXIES names the controller's own.
	REAL_IP=$(real_ip_lines "${SLIPWAY_FRONTDOOR_TRUSTED_PROXIES:-10.0.0.0/8,172.16.0.0/12,192.168.0.0/16}")
	cat <<'EOF'
# Generated by `scripts/frontdoor.sh k8s > deploy/k8s/frontdoor-config.yaml`
# from deploy/frontdoor/nginx.conf.template; do not edit by hand
# (tests/e2e/test_frontdoor.py checks it is current).
apiVersion: v1
kind: ConfigMap
metadata:
  name: slipway-frontdoor
  namespace: slipway
  labels: {app.kubernetes.io/name: frontdoor, app.kubernetes.io/part-of: slipway}
data:
  nginx.conf: |
EOF
	render | sed -e 's/^\(.\)/    \1/' -e 's/^$//'
}

cmd=${1:-run}
case $cmd in
render) load_settings; render ;;
check) load_settings; prepare; echo "frontdoor: $STATE/nginx.conf is valid" ;;
k8s) k8s_configmap ;;
run)
	load_settings
	prepare
	printf 'frontdoor: listening on %s (console %s)\n' "$LISTEN" "$CONSOLE" >&2
	exec "$NGINX" -e stderr -p "$STATE" -c "$STATE/nginx.conf" -g 'daemon off;'
	;;
*) die "usage: frontdoor.sh [run|check|render|k8s]" ;;
esac
