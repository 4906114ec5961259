#!/usr/bin/env bash
# `make run`: brings the local stack up, starts the five services in the
# background with their output prefixed by name in this terminal, registers
# the data plane `local`, prints a walkthrough and stays in the foreground.
# Ctrl-C stops the services, removes the data-plane containers and takes the
# stack down.
#
# Binaries come from ${SLIPWAY_BUILD:-build}/bin. The services listen on
# SLIPWAY_RUN_PORT_BASE (8080) + 0..4: webhook-ingress, registry-svc,
# component-svc, deploy-svc, dataplane-agent (the defaults of internals.md).
# In front of them the front door (scripts/frontdoor.sh, nginx) answers on
# SLIPWAY_FRONTDOOR_LISTEN (127.0.0.1:8000): the one address the CLI
# (SLIPWAY_URL), CI and the console use, SLIPWAY_PUBLIC_URL in answers.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
cd "$REPO"
BIN=$(cd "${SLIPWAY_BUILD:-build}/bin" && pwd)
STATE=${SLIPWAY_STATE:-$REPO/.state}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
export SLIPWAY_STATE=$STATE
BASE=${SLIPWAY_RUN_PORT_BASE:-8080}
DEMO_PORT=${SLIPWAY_DEMO_PORT:-9090}
READY_TIMEOUT=${SLIPWAY_READY_TIMEOUT_S:-60}
FRONTDOOR_LISTEN=${SLIPWAY_FRONTDOOR_LISTEN:-127.0.0.1:8000}
# What clients are told: an all-interfaces listener is reached on loopback
# from this host.
PUBLIC_URL=${SLIPWAY_PUBLIC_URL:-http://${FRONTDOOR_LISTEN/#0.0.0.0:/127.0.0.1:}}
PUBLIC_URL=${PUBLIC_URL%/}

SERVICES=(registry-svc component-svc deploy-svc webhook-ingress dataplane-agent)
declare -A PORT=([webhook-ingress]=$BASE [registry-svc]=$((BASE + 1))
	[component-svc]=$((BASE + 2)) [deploy-svc]=$((BASE + 3)) [dataplane-agent]=$((BASE + 4)))
declare -A PID=()

say() { printf 'run: %s\n' "$*"; }

# --- shutdown ------------------------------------------------------------------

STOPPING=0
# stop_all: SIGTERM to every service, SIGKILL after 10 s, then the stack
# (whose `down` removes the slipway.managed containers first).
stop_all() {
	((STOPPING)) && return
	STOPPING=1
	trap '' INT TERM PIPE   # a closed terminal or pipe must not cut the shutdown short
	echo
	say "stopping services"
	local s i alive
	for s in "${!PID[@]}"; do kill -TERM "${PID[$s]}" 2>/dev/null || true; done
	for ((i = 0; i < 100; i++)); do
		alive=0
		for s in "${!PID[@]}"; do kill -0 "${PID[$s]}" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for s in "${!PID[@]}"; do
		if kill -0 "${PID[$s]}" 2>/dev/null; then
			say "$s did not stop in 10s, killing"
			kill -KILL "${PID[$s]}" 2>/dev/null || true
		fi
	done
	wait 2>/dev/null || true
	bash "$HERE/stack.sh" down || true
}

fail() {
	say "error: $*" >&2
	stop_all
	exit 1
}

trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM

# --- secrets and keys -------------------------------------------------------------

admin_token() {
	if [[ -n ${SLIPWAY_ADMIN_TOKEN:-} ]]; then
		return
	fi
	if [[ ! -s $STATE/admin-token ]]; then
		(umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$STATE/admin-token")
	fi
	SLIPWAY_ADMIN_TOKEN=$(<"$STATE/admin-token")
	export SLIPWAY_ADMIN_TOKEN
}

# kek_file writes the registry-svc keyring once; "1:<base64 of 32 bytes>" is
# the same format keygen-kek writes, used when the subcommand fails.
kek_file() {
	KEK=$STATE/kek
	[[ -s $KEK ]] && return
	if ! timeout 10 "$BIN/registry-svc" keygen-kek --out "$KEK" >/dev/null 2>&1 || [[ ! -s $KEK ]]; then
		(umask 077 && printf '1:%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$KEK")
	fi
	chmod 0600 "$KEK"
}

# dataplane_key writes the agent's keypair once and sets DP_PUBLIC_KEY.
dataplane_key() {
	DP_KEY=$STATE/dataplane.key
	if [[ ! -s $DP_KEY ]]; then
		"$BIN/dataplane-agent" keygen --out "$DP_KEY" >/dev/null || fail "dataplane-agent keygen failed"
	fi
	DP_PUBLIC_KEY=$(sed -n 's/.*"public_key" *: *"\([^"]*\)".*/\1/p' "$DP_KEY")
	[[ -n $DP_PUBLIC_KEY ]] || fail "no public_key in $DP_KEY"
}

# --- services -------------------------------------------------------------------

# The stack's store credentials (stack.env): each service gets only its own,
# as SLIPWAY_PG_URL / SLIPWAY_REDIS_USER / SLIPWAY_REDIS_PASSWORD.
STORE_SECRETS=(SLIPWAY_PG_REGISTRY_URL SLIPWAY_PG_COMPONENT_URL SLIPWAY_PG_DEPLOY_URL
	SLIPWAY_PG_WEBHOOK_URL SLIPWAY_PG_ADMIN_URL SLIPWAY_REDIS_COMPONENT_PASSWORD
	SLIPWAY_REDIS_WEBHOOK_PASSWORD SLIPWAY_REDIS_ADMIN_PASSWORD
	SLIPWAY_KAFKA_REGISTRY_SVC_PASSWORD SLIPWAY_KAFKA_COMPONENT_SVC_PASSWORD
	SLIPWAY_KAFKA_DEPLOY_SVC_PASSWORD SLIPWAY_KAFKA_WEBHOOK_INGRESS_PASSWORD
	SLIPWAY_KAFKA_ADMIN_PASSWORD)

# kafka_env USER prints the Kafka principal lines of a service or agent: its
# own SCRAM user, the password by file (the stack's 0600 one).
kafka_env() {
	echo "SLIPWAY_KAFKA_USERNAME=$1"
	echo "SLIPWAY_KAFKA_PASSWORD_FILE=$STATE/kafka-$1-password"
}

# service_env NAME prints the environment lines of one service.
service_env() {
	echo "SLIPWAY_HTTP_PORT=${PORT[$1]}"
	if [[ $1 == dataplane-agent ]]; then kafka_env agent-local; else kafka_env "$1"; fi
	case $1 in
	webhook-ingress)
		echo "SLIPWAY_PG_URL=$SLIPWAY_PG_WEBHOOK_URL"
		echo "SLIPWAY_REDIS_USER=webhook"
		echo "SLIPWAY_REDIS_PASSWORD=$SLIPWAY_REDIS_WEBHOOK_PASSWORD"
		# Behind the front door: status_url on the public address, and
		# the client address from the X-Forwarded-For nginx sets (it
		# replaces a client's own, so it cannot be forged).
		echo "SLIPWAY_PUBLIC_URL=$PUBLIC_URL"
		echo "SLIPWAY_DEPLOY_URL=http://127.0.0.1:${PORT[deploy-svc]}"
		echo "SLIPWAY_WEBHOOK_TRUST_FORWARDED=1"
		;;
	component-svc)
		echo "SLIPWAY_PG_URL=$SLIPWAY_PG_COMPONENT_URL"
		echo "SLIPWAY_REDIS_USER=component"
		echo "SLIPWAY_REDIS_PASSWORD=$SLIPWAY_REDIS_COMPONENT_PASSWORD"
		;;
	deploy-svc)
		echo "SLIPWAY_PG_URL=$SLIPWAY_PG_DEPLOY_URL"
		echo "SLIPWAY_KEK_FILE=$KEK"
		;;
	registry-svc)
		echo "SLIPWAY_PG_URL=$SLIPWAY_PG_REGISTRY_URL"
		echo "SLIPWAY_KEK_FILE=$KEK"
		# The local registries are on loopback: allow that, nothing more.
		echo "SLIPWAY_ALLOW_PRIVATE_TARGETS=loopback"
		;;
	dataplane-agent)
		echo "SLIPWAY_DATAPLANE=local"
		echo "SLIPWAY_ALLOW_PRIVATE_TARGETS=loopback"
		echo "SLIPWAY_DATAPLANE_KEY_FILE=$DP_KEY"
		echo "SLIPWAY_AGENT_STATE_DIR=$STATE/agent"
		# The gateway stack.sh runs: one public and one internal listener
		# per environment, so both environments share this host.
		echo "SLIPWAY_GATEWAY_DIR=$SLIPWAY_GATEWAY_DIR"
		echo "SLIPWAY_GATEWAY_SOCKET=$SLIPWAY_GATEWAY_SOCKET"
		echo "SLIPWAY_GATEWAY_MASTER_SOCKET=$SLIPWAY_GATEWAY_MASTER_SOCKET"
		echo "SLIPWAY_GATEWAY_LISTENERS=$SLIPWAY_GATEWAY_LISTENERS"
		echo "SLIPWAY_GATEWAY_TCP_PORTS=$SLIPWAY_GATEWAY_TCP_PORTS"
		;;
	esac
}

# start_service NAME: output prefixed with the name; the prefixer ignores
# SIGINT so a Ctrl-C does not cut a service's stdout while it shuts down.
start_service() {
	local name=$1 pad
	pad=$(printf '%-16s|' "$name")
	local -a env
	mapfile -t env < <(service_env "$name")
	env "${STORE_SECRETS[@]/#/--unset=}" "${env[@]}" setsid "$BIN/$name" \
		> >(trap '' INT TERM; exec sed -u "s/^/$pad /") 2>&1 </dev/null &
	PID[$name]=$!
}

# wait_ready NAME: polls GET /readyz until 200.
wait_ready() {
	local name=$1 deadline=$((SECONDS + READY_TIMEOUT))
	until curl -sf -o /dev/null "http://127.0.0.1:${PORT[$name]}/readyz"; do
		kill -0 "${PID[$name]}" 2>/dev/null || fail "$name exited during start-up (see its output above)"
		((SECONDS < deadline)) || fail "$name not ready after ${READY_TIMEOUT}s (GET /readyz on :${PORT[$name]})"
		sleep 0.3
	done
	say "$name ready on 127.0.0.1:${PORT[$name]}"
}

# start_frontdoor: nginx in front of the four HTTP services and the
# console, output prefixed like a service's; PID[frontdoor] is nginx itself
# (frontdoor.sh execs it), so stop_all's SIGTERM is its fast shutdown.
start_frontdoor() {
	local pad
	pad=$(printf '%-16s|' frontdoor)
	env "${STORE_SECRETS[@]/#/--unset=}" \
		SLIPWAY_FRONTDOOR_LISTEN="$FRONTDOOR_LISTEN" \
		SLIPWAY_FRONTDOOR_WEBHOOK_URL="http://127.0.0.1:${PORT[webhook-ingress]}" \
		SLIPWAY_FRONTDOOR_REGISTRY_URL="http://127.0.0.1:${PORT[registry-svc]}" \
		SLIPWAY_FRONTDOOR_COMPONENT_URL="http://127.0.0.1:${PORT[component-svc]}" \
		SLIPWAY_FRONTDOOR_DEPLOY_URL="http://127.0.0.1:${PORT[deploy-svc]}" \
		SLIPWAY_FRONTDOOR_CONSOLE_DIR="${SLIPWAY_FRONTDOOR_CONSOLE_DIR:-$(dirname "$BIN")/console}" \
		SLIPWAY_FRONTDOOR_STATE_DIR="$STATE/frontdoor" \
		setsid bash "$HERE/frontdoor.sh" run \
		> >(trap '' INT TERM; exec sed -u "s/^/$pad /") 2>&1 </dev/null &
	PID[frontdoor]=$!
	local deadline=$((SECONDS + READY_TIMEOUT))
	until curl -sf -o /dev/null "$PUBLIC_URL/healthz"; do
		kill -0 "${PID[frontdoor]}" 2>/dev/null || fail "the front door exited during start-up (see its output above)"
		((SECONDS < deadline)) || fail "the front door not up after ${READY_TIMEOUT}s (GET $PUBLIC_URL/healthz)"
		sleep 0.3
	done
	say "front door ready on $PUBLIC_URL"
}

register_dataplane() {
	"$BIN/slipway" dataplane add local --public-key "$DP_PUBLIC_KEY" --shared >/dev/null ||
		fail "slipway dataplane add local failed"
	say "data plane 'local' registered"
}

# --- walkthrough -------------------------------------------------------------------

walkthrough() {
	local ep=$STATE/endpoints.yaml urls="" dev
	# The development environment's public listener on the gateway.
	dev=${SLIPWAY_GATEWAY_LISTENERS#*development=}
	dev=${dev%%,*}
	cat >"$ep" <<EOF
version: 0.1
endpoints:
  - name: web
    port: $DEMO_PORT
    type: REST
    networkVisibility: Public
    context: /
EOF
	# The CLI's default is the default front door; say it anyway when it
	# is elsewhere.
	if [[ $PUBLIC_URL != http://127.0.0.1:8000 ]]; then
		urls="export SLIPWAY_URL=$PUBLIC_URL
"
	fi
	local J=j
	cat <<EOF

================ Slipway is running (Ctrl-C stops everything) ================
One address for the APIs, the webhook and the console: $PUBLIC_URL
In another terminal, from $REPO (a second \`make run\` on the same state keeps
the registry: then take its id from \`slipway registry list acme\`):

export SLIPWAY_ADMIN_TOKEN=$SLIPWAY_ADMIN_TOKEN
${urls}export PATH=$BIN:\$PATH
j() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "\$1"; }

REG=\$(slipway registry add acme --name local --host $SLIPWAY_REGISTRY_HOST --username $SLIPWAY_REGISTRY_USER --password-stdin --quiet < $STATE/registry-password)
slipway registry test acme \$REG

COMP=\$(slipway component create acme shop --name hello --type service --registry \$REG --image $SLIPWAY_REGISTRY_HOST/demo/hello:v1 --endpoints $ep --quiet)

TOKEN=\$(slipway token create \$COMP --name ci)

DEP=\$(curl -s -X POST $PUBLIC_URL/v1/hooks/deploy -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -d '{"image":"$SLIPWAY_DEMO_IMAGE"}' | $J request_id)

slipway deploy status \$DEP --wait

curl http://$dev/acme/shop/hello/   # through the gateway -> hello from slipway demo v1

(then push v2 the same way with "image": "$SLIPWAY_REGISTRY_HOST/demo/hello:v2")
==============================================================================
EOF
}

# --- main -----------------------------------------------------------------------

main() {
	local s
	for s in "${SERVICES[@]}" slipway; do
		[[ -x $BIN/$s ]] || { say "error: $BIN/$s missing (run make)" >&2; exit 1; }
	done
	bash "$HERE/stack.sh" up || { say "error: stack up failed" >&2; exit 1; }
	# shellcheck disable=SC1091
	. "$STATE/stack.env"
	# This script's own CLI calls go through the front door too.
	export SLIPWAY_URL=$PUBLIC_URL
	unset SLIPWAY_URL_WEBHOOK SLIPWAY_URL_REGISTRY SLIPWAY_URL_COMPONENT SLIPWAY_URL_DEPLOY
	admin_token
	kek_file
	dataplane_key
	# The local agent's Kafka principal (and the ACLs of its data plane)
	# exist before it starts; deploy-svc creates the topics at registration.
	bash "$HERE/stack.sh" kafka-principal local || fail "kafka principal of data plane local failed"
	# The agent starts once its data plane is registered (which needs
	# deploy-svc): deploy-svc creates its topics then, and on the
	# authenticated bus the agent may not create them itself.
	for s in registry-svc component-svc deploy-svc webhook-ingress; do start_service "$s"; done
	for s in registry-svc component-svc deploy-svc webhook-ingress; do wait_ready "$s"; done
	start_frontdoor
	register_dataplane
	start_service dataplane-agent
	wait_ready dataplane-agent
	walkthrough
	supervise
}

# supervise reports a service that exits on its own; the others keep running
# until Ctrl-C.
supervise() {
	local s
	declare -A gone=()
	while :; do
		for s in "${SERVICES[@]}" frontdoor; do
			if [[ -z ${gone[$s]:-} ]] && ! kill -0 "${PID[$s]}" 2>/dev/null; then
				gone[$s]=1
				say "warning: $s exited; the others keep running (Ctrl-C to stop)"
			fi
		done
		sleep 1 &
		wait $! || true
	done
}

main "$@"
