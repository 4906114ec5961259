#!/bin/sh
# The gateway container's entrypoint: the official haproxy:2.6 image
# (docker-compose.yml) or the `gateway` target of deploy/Dockerfile
# (Kubernetes). It prepares the directory it shares with the dataplane-agent
# and runs HAProxy in master-worker mode:
#
#   entrypoint.sh [haproxy ARGS...]
#
# without arguments: haproxy -W -db -S DIR/master.sock,mode,600 -f DIR/haproxy.cfg
#
# DIR is $SLIPWAY_GATEWAY_DIR (default /var/lib/slipway/gateway), and it must
# be the agent's SLIPWAY_GATEWAY_DIR at the same path, because the agent
# writes absolute paths into haproxy.cfg; the runtime API socket is
# DIR/haproxy.sock (the agent's SLIPWAY_GATEWAY_SOCKET), the master CLI
# DIR/master.sock (its SLIPWAY_GATEWAY_MASTER_SOCKET).
#
# haproxy.cfg is written from haproxy-bootstrap.cfg (beside this script, the
# same text scripts/stack.sh writes) only when there is none yet: a gateway
# that restarts comes back with the routes the agent last wrote.
#
# Started as root, it hands DIR to $SLIPWAY_GATEWAY_RUN_AS (default haproxy,
# the image's user) and runs HAProxy as that user; SLIPWAY_GATEWAY_RUN_AS=""
# keeps the current user (Kubernetes: uid 0 without capabilities, the uid of
# the agent that must connect to HAProxy's mode 600 sockets).
set -eu

DIR=${SLIPWAY_GATEWAY_DIR:-/var/lib/slipway/gateway}
RUN_AS=${SLIPWAY_GATEWAY_RUN_AS-haproxy}
HERE=$(cd "$(dirname "$0")" && pwd)

die() {
	echo "gateway: $*" >&2
	exit 1
}

# The agent accepts only these characters in the paths it writes to haproxy.cfg.
case $DIR in
/*) ;;
*) die "SLIPWAY_GATEWAY_DIR must be an absolute path" ;;
esac
case $DIR in
*[!A-Za-z0-9/._+-]*) die "SLIPWAY_GATEWAY_DIR may hold only A-Z a-z 0-9 / . _ + -" ;;
esac

mkdir -p "$DIR"
if [ ! -s "$DIR/haproxy.cfg" ]; then
	sed -e "s|@GATEWAY_SOCKET@|$DIR/haproxy.sock|g" -e "s|@GATEWAY_DIR@|$DIR|g" \
		"$HERE/haproxy-bootstrap.cfg" >"$DIR/haproxy.cfg.tmp"
	mv "$DIR/haproxy.cfg.tmp" "$DIR/haproxy.cfg"
fi
# Sockets of a previous run; HAProxy makes them anew.
rm -f "$DIR/haproxy.sock" "$DIR/master.sock"

if [ $# -eq 0 ]; then
	set -- haproxy -W -db -S "$DIR/master.sock,mode,600" -f "$DIR/haproxy.cfg"
fi
if [ "$(id -u)" = 0 ] && [ -n "$RUN_AS" ]; then
	uid=$(id -u "$RUN_AS") && gid=$(id -g "$RUN_AS") || die "no user $RUN_AS"
	chown "$uid:$gid" "$DIR"
	exec setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@"
fi
exec "$@"
