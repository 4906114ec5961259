#!/usr/bin/env bash
# Local stack for development and the end-to-end tests: Kafka (KRaft, one
# node), PostgreSQL, Redis, an OCI registry with htpasswd auth, the demo image,
# a podman service speaking the Docker Engine API and HAProxy, the data
# plane's gateway. Everything listens on 127.0.0.1 and lives under
# $SLIPWAY_STATE (default .state/).
#
#   scripts/stack.sh up|down|status
#   scripts/stack.sh kafka-principal DATAPLANE   the Kafka user and ACLs of
#                                                one data plane's agent
#
# Each part runs in the background with a pid file and a log under the state
# dir; `up` waits for each until ready and fails naming the part and showing
# its log tail. `up` twice is harmless; `down` leaves no process behind.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

KAFKA_PORT=${SLIPWAY_KAFKA_PORT:-19092}
KAFKA_CPORT=${SLIPWAY_KAFKA_CONTROLLER_PORT:-19093}
PG_PORT=${SLIPWAY_PG_PORT:-15432}
REDIS_PORT=${SLIPWAY_REDIS_PORT:-16379}
REGISTRY_PORT=${SLIPWAY_REGISTRY_PORT:-15000}
# The gateway's listeners: development public = base, internal = base+100,
# production public = base+1, internal = base+101; TCP endpoints from
# base+220 to base+319.
GATEWAY_PORT_BASE=${SLIPWAY_GATEWAY_PORT_BASE:-9080}
KAFKA_LIB=${SLIPWAY_KAFKA_LIB:-$HOME/.cache/slipway/kafka-3.9.1/lib}
TIMEOUT=${SLIPWAY_STACK_TIMEOUT_S:-30}
KAFKA_TIMEOUT=${SLIPWAY_KAFKA_TIMEOUT_S:-120}

STATE=${SLIPWAY_STATE:-$REPO/.state}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
RUN=$STATE/run # pid files and logs of the parts

say() { printf 'stack: %s\n' "$*"; }
die() {
	printf 'stack: error: %s\n' "$*" >&2
	exit 1
}

# --- process helpers -------------------------------------------------------

# pid_of FILE PATTERN prints the pid in FILE when that process is alive and
# its command line matches PATTERN (a stale pid reused by another program
# does not count).
pid_of() {
	local pid
	[[ -s $1 ]] || return 1
	pid=$(head -n1 "$1")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
	echo "$pid"
}

# start_bg NAME CMD... runs CMD in its own session (so a Ctrl-C in the
# terminal of `make run` does not reach it), output to $RUN/NAME.log; the
# process itself writes its pid, so the pid file is right even when setsid
# has to fork.
start_bg() {
	local name=$1
	shift
	: >"$RUN/$name.log"
	rm -f "$RUN/$name.pid"
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN/$name.pid" "$@" \
		</dev/null >>"$RUN/$name.log" 2>&1 9>&- &
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -s $RUN/$name.pid ]] && return 0
		sleep 0.05
	done
	die "$name: could not start (no pid file)"
}

# fail_part NAME LOG WHY prints the reason and the log tail, then exits.
fail_part() {
	printf 'stack: error: %s: %s; last lines of %s:\n' "$1" "$3" "$2" >&2
	tail -n 25 "$2" >&2 || true
	exit 1
}

# wait_ready NAME LOG TIMEOUT PIDFILE PATTERN CHECK... polls CHECK until it
# succeeds; fails early when the process died, or after TIMEOUT seconds.
wait_ready() {
	local name=$1 log=$2 timeout=$3 pidfile=$4 pattern=$5
	shift 5
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if [[ -n $pidfile ]] && ! pid_of "$pidfile" "$pattern" >/dev/null; then
			fail_part "$name" "$log" "process exited before it was ready"
		fi
		((SECONDS < deadline)) || fail_part "$name" "$log" "not ready after ${timeout}s"
		sleep 0.2
	done
}

# stop_pid NAME PIDFILE PATTERN [GRACE]: SIGTERM, then SIGKILL after GRACE s.
stop_pid() {
	local name=$1 pidfile=$2 pattern=$3 grace=${4:-10} pid i
	if ! pid=$(pid_of "$pidfile" "$pattern"); then
		rm -f "$pidfile"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < grace * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "$name: still running after ${grace}s, killing"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.2
	fi
	rm -f "$pidfile"
	say "$name stopped"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# port_free NAME PORT refuses to start a part on a port someone else holds.
port_free() {
	if port_open "$2"; then
		die "$1: 127.0.0.1:$2 is already in use by another process (set SLIPWAY_*_PORT)"
	fi
}

# --- Kafka -----------------------------------------------------------------

KAFKA_DIR=$STATE/kafka

# The bus is authenticated (docs/internals.md, "The authenticated bus"):
# clients use SASL/SCRAM-SHA-256 on the CLIENT listener, one principal per
# service (these users are added when the storage is formatted) and one per
# data-plane agent (`stack.sh kafka-principal DP`); `admin` is the broker
# itself (inter-broker), this script, the tests and operators. The
# controller listener takes PLAIN with a static admin user: KRaft cannot
# check SCRAM there, before the metadata is loaded. Every principal but
# admin gets only the ACLs slipway-kafka-acl grants (StandardAuthorizer,
# nothing allowed without an ACL). Passwords: $STATE/kafka-<user>-password
# (0600); server.properties holds admin's and is 0600 too.
KAFKA_USERS=(admin registry-svc component-svc deploy-svc webhook-ingress)
KAFKA_MECHANISM=SCRAM-SHA-256

kafka_write_config() {
	local pw
	pw=$(stack_secret kafka-admin)
	mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
	(umask 077 && cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by scripts/stack.sh: one combined broker + KRaft controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CPORT
listeners=CLIENT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CPORT
advertised.listeners=CLIENT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=CLIENT
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT
sasl.enabled.mechanisms=$KAFKA_MECHANISM
sasl.mechanism.inter.broker.protocol=$KAFKA_MECHANISM
listener.name.client.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$pw";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$pw" user_admin="$pw";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
log.dirs=$KAFKA_DIR/data
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0
# One local node: after a crash the controller drops the dead broker's
# registration after 3 s instead of 9, so a restarted broker serves sooner.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=1000
log.retention.hours=168
EOF
	)
	# The admin client of this script (kafka-principal) and of operators.
	(umask 077 && cat >"$KAFKA_DIR/admin.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=$KAFKA_MECHANISM
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$pw";
EOF
	)
	cat >"$KAFKA_DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka=WARN
log4j.logger.kafka=WARN
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.state.change.logger=WARN
EOF
}

java_bin() {
	if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}
KAFKA_JVM=(-Xms512m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20
	-XX:-UsePerfData -Djava.awt.headless=true
	"-Dlog4j.configuration=file:$KAFKA_DIR/log4j.properties"
	"-Dkafka.logs.dir=$KAFKA_DIR/logs" -cp "$KAFKA_LIB/*")

# kafka_format formats the log dir once; the cluster id is a base64url UUID
# generated here (saves a JVM start) and kept for later runs. It must not
# start with "-", which StorageTool would read as an option.
#
# The SCRAM users of admin and the services go in with the format (the
# broker needs admin's to talk to itself before any tool could add it). A
# log dir formatted before the bus had SASL has no such users and KRaft
# cannot add the first one: it is the local stack, so it is formatted anew
# (its topics are lost) and the reason printed.
kafka_format() {
	local u scram=()
	if [[ -f $KAFKA_DIR/data/meta.properties && ! -f $KAFKA_DIR/sasl ]]; then
		say "kafka: $KAFKA_DIR/data was formatted before the bus had SASL users; formatting it again (its topics and offsets are lost)" >&2
		rm -rf "$KAFKA_DIR/data"
		mkdir -p "$KAFKA_DIR/data"
	fi
	[[ -f $KAFKA_DIR/data/meta.properties ]] && return 0
	[[ -s $KAFKA_DIR/cluster.id ]] ||
		head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | sed 's/^-/A/' >"$KAFKA_DIR/cluster.id"
	for u in "${KAFKA_USERS[@]}"; do
		scram+=(--add-scram "$KAFKA_MECHANISM=[name=$u,password=$(stack_secret "kafka-$u")]")
	done
	say "kafka: formatting storage (SCRAM users ${KAFKA_USERS[*]})"
	"$(java_bin)" "${KAFKA_JVM[@]}" kafka.tools.StorageTool format -t "$(<"$KAFKA_DIR/cluster.id")" \
		-c "$KAFKA_DIR/server.properties" -g "${scram[@]}" >"$RUN/kafka-format.log" 2>&1 ||
		fail_part kafka "$RUN/kafka-format.log" "StorageTool format failed"
	: >"$KAFKA_DIR/sasl"
}

kafka_started() {
	port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$RUN/kafka.log"
}

kafka_up() {
	if pid=$(pid_of "$RUN/kafka.pid" kafka.Kafka); then
		say "kafka already running (pid $pid)"
	else
		if ! ls "$KAFKA_LIB"/kafka_2.13-*.jar >/dev/null 2>&1; then
			sh "$HERE/kafka-fetch.sh" || die "kafka: no jars in $KAFKA_LIB and the fetch failed"
		fi
		port_free kafka "$KAFKA_PORT"
		port_free kafka-controller "$KAFKA_CPORT"
		kafka_write_config
		kafka_format
		start_bg kafka "$(java_bin)" "${KAFKA_JVM[@]}" kafka.Kafka "$KAFKA_DIR/server.properties"
	fi
	wait_ready kafka "$RUN/kafka.log" "$KAFKA_TIMEOUT" "$RUN/kafka.pid" kafka.Kafka kafka_started
	kafka_acls --services
	say "kafka up on 127.0.0.1:$KAFKA_PORT (SASL $KAFKA_MECHANISM, ACLs of ${KAFKA_USERS[*]:1})"
}
kafka_down() { stop_pid kafka "$RUN/kafka.pid" kafka.Kafka 30; }

# The ACL table lives in one place, services/slipway-kafka-acl/acl_table.c;
# this script only runs the tool, as admin.
kafka_acl_bin() {
	local b=${SLIPWAY_BUILD:-build}
	[[ $b == /* ]] || b=$REPO/$b
	echo "$b/bin/slipway-kafka-acl"
}

# kafka_admin CMD... runs CMD with the admin's Kafka client settings.
kafka_admin() {
	SLIPWAY_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT SLIPWAY_KAFKA_SECURITY_PROTOCOL=sasl_plaintext \
		SLIPWAY_KAFKA_SASL_MECHANISM=$KAFKA_MECHANISM SLIPWAY_KAFKA_USERNAME=admin \
		SLIPWAY_KAFKA_PASSWORD= SLIPWAY_KAFKA_PASSWORD_FILE=$STATE/kafka-admin-password \
		SLIPWAY_KAFKA_CA_FILE= "$@"
}

# kafka_acls ARGS...: slipway-kafka-acl grant ARGS (one CreateAcls request).
kafka_acls() {
	local bin
	bin=$(kafka_acl_bin)
	[[ -x $bin ]] || die "kafka: $bin is not built (run make, or set SLIPWAY_BUILD)"
	kafka_admin "$bin" grant "$@" >"$RUN/kafka-acl.log" 2>&1 ||
		fail_part kafka "$RUN/kafka-acl.log" "granting ACLs failed"
}

# kafka_principal DP: the SCRAM user agent-DP (password in
# $STATE/kafka-agent-DP-password, 0600) and the ACLs of data plane DP. The
# password reaches Kafka's ConfigCommand in a 0600 file, never on a command
# line. Adding the same user again just sets the same password.
kafka_principal() {
	local dp=$1 user=agent-$1 f
	[[ $dp =~ ^[a-z0-9][a-z0-9-]{0,39}$ ]] || die "kafka-principal: '$dp' is not a valid data-plane name"
	kafka_status || die "kafka-principal: kafka is not running (stack.sh up)"
	f=$KAFKA_DIR/scram-$user.properties
	(umask 077 && printf '%s=password=%s\n' "$KAFKA_MECHANISM" "$(stack_secret "kafka-$user")" >"$f")
	"$(java_bin)" -Xms64m -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData \
		"-Dlog4j.configuration=file:$KAFKA_DIR/log4j.properties" -cp "$KAFKA_LIB/*" \
		kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
		--command-config "$KAFKA_DIR/admin.properties" --alter --entity-type users \
		--entity-name "$user" --add-config-file "$f" >"$RUN/kafka-principal.log" 2>&1 || {
		rm -f "$f"
		fail_part kafka "$RUN/kafka-principal.log" "adding the SCRAM user $user failed"
	}
	rm -f "$f"
	kafka_acls --dataplane "$dp"
	say "kafka principal $user ready (password in $STATE/kafka-$user-password)"
}
kafka_status() { pid_of "$RUN/kafka.pid" kafka.Kafka >/dev/null && port_open "$KAFKA_PORT"; }

# --- secrets -----------------------------------------------------------------

# stack_secret NAME prints the password in $STATE/NAME-password, generating it
# (0600, 32 alphanumerics: safe in a URL and an ACL file) the first time.
stack_secret() {
	local f=$STATE/$1-password
	if [[ ! -s $f ]]; then
		(umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$f")
	fi
	cat "$f"
}

# --- PostgreSQL ------------------------------------------------------------

pg_bin() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
	if [[ -n $d && -x $d/initdb ]]; then echo "$d"; else dirname "$(command -v initdb)"; fi
}
PG_BIN=$(pg_bin 2>/dev/null || true)

# The cluster runs as the `postgres` OS user when we are root (initdb refuses
# root). That user must reach the cluster dir: a state dir under /root is not
# traversable, so then the cluster lives in /tmp/slipway-pg-<hash of state>
# and $STATE/pg.dir records where.
pg_as() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_dir() {
	if [[ -s $STATE/pg.dir ]]; then
		cat "$STATE/pg.dir"
		return
	fi
	local dir=$STATE/pg
	mkdir -p "$dir"
	# The superuser's socket is there (trust): nobody else may reach it.
	chmod 0700 "$dir"
	[[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir"
	# The unix socket path must stay under 108 bytes.
	if ! pg_as test -w "$dir" -a -x "$dir" || ((${#dir} > 80)); then
		rmdir "$dir" 2>/dev/null || true
		dir=/tmp/slipway-pg-$(printf '%s' "$STATE" | cksum | awk '{ print $1 }')
		mkdir -p "$dir"
		chmod 0700 "$dir"
		[[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir"
		say "postgres: $STATE is not reachable by the postgres user (or too long a path for its socket); cluster in $dir" >&2
	fi
	echo "$dir" >"$STATE/pg.dir"
	echo "$dir"
}

pg_init() {
	local dir=$1
	[[ -f $dir/data/PG_VERSION ]] && return 0
	say "postgres: initdb"
	pg_as "$PG_BIN/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=trust -N >"$RUN/pg-initdb.log" 2>&1 ||
		fail_part postgres "$RUN/pg-initdb.log" "initdb failed"
	cat >>"$dir/data/postgresql.conf" <<EOF
# Local stack (scripts/stack.sh): loopback only, speed over durability.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
EOF
	cat >>"$dir/data/postgresql.conf" <<EOF
password_encryption = scram-sha-256
unix_socket_permissions = 0700
EOF
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres -U postgres; }

# pg_hba_write: passwords (SCRAM) over TCP; the superuser only over the unix
# socket (0700 directory and socket), which this script uses to create the
# roles. Written before every start, so an older cluster loses `trust` too.
pg_hba_write() {
	cat >"$1/data/pg_hba.conf" <<'EOF'
local all  postgres                trust
local all  all                     reject
host  all  postgres 127.0.0.1/32   reject
host  all  all      127.0.0.1/32   scram-sha-256
EOF
}

# pg_admin DB ARGS...: psql as the superuser over the unix socket.
pg_admin() {
	"$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$(pg_dir)" -p "$PG_PORT" -U postgres -d "$@"
}

# The roles: one per schema-owning service, owner of its schema (the shared
# outbox and processed_events tables live in every schema, so each service
# owns its own), and the webhook's read-only one (component-svc's migration
# grants it SELECT on two tables). `slipway` owns the database and cannot
# log in. Passwords: $STATE/pg-<name>-password (0600).
PG_ROLES=(registry component deploy webhook)

pg_url() { echo "postgresql://slipway_$1:$(stack_secret "pg-$1")@127.0.0.1:$PG_PORT/slipway"; }

# pg_roles creates the database, roles and schemas and sets the passwords;
# safe to run on every `up`. The passwords go to psql as variables, never
# on a command line of their own.
pg_roles() {
	local r args=()
	for r in "${PG_ROLES[@]}"; do
		args+=(-v "pw_$r=$(stack_secret "pg-$r")")
	done
	pg_admin postgres "${args[@]}" >"$RUN/pg-roles.log" 2>&1 <<'EOF' ||
SELECT format('CREATE ROLE %I', r) FROM unnest(ARRAY['slipway', 'slipway_registry',
  'slipway_component', 'slipway_deploy', 'slipway_webhook']) r
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) \gexec
ALTER ROLE slipway NOLOGIN PASSWORD NULL;
SET password_encryption = 'scram-sha-256';
ALTER ROLE slipway_registry LOGIN PASSWORD :'pw_registry';
ALTER ROLE slipway_component LOGIN PASSWORD :'pw_component';
ALTER ROLE slipway_deploy LOGIN PASSWORD :'pw_deploy';
ALTER ROLE slipway_webhook LOGIN PASSWORD :'pw_webhook';
SELECT 'CREATE DATABASE slipway OWNER slipway' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'slipway') \gexec
EOF
		fail_part postgres "$RUN/pg-roles.log" "creating roles failed"
	pg_admin slipway >>"$RUN/pg-roles.log" 2>&1 <<'EOF' ||
REVOKE ALL ON DATABASE slipway FROM PUBLIC;
GRANT CONNECT ON DATABASE slipway TO slipway_registry, slipway_component, slipway_deploy, slipway_webhook;
-- A service's CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even
-- when its schema is there already.
GRANT CREATE ON DATABASE slipway TO slipway_registry, slipway_component, slipway_deploy;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS registry AUTHORIZATION slipway_registry;
CREATE SCHEMA IF NOT EXISTS component AUTHORIZATION slipway_component;
CREATE SCHEMA IF NOT EXISTS deploy AUTHORIZATION slipway_deploy;
-- A cluster from before the per-service roles: hand each schema and its
-- tables to its service (indexes and owned sequences follow their table).
DO $$
DECLARE
	o record;
BEGIN
	FOR o IN SELECT nspname FROM pg_namespace
	    WHERE nspname IN ('registry', 'component', 'deploy') LOOP
		EXECUTE format('ALTER SCHEMA %I OWNER TO %I', o.nspname,
		    'slipway_' || o.nspname);
	END LOOP;
	FOR o IN SELECT n.nspname, c.relname, CASE c.relkind WHEN 'v' THEN 'VIEW'
	    WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
	    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	    WHERE n.nspname IN ('registry', 'component', 'deploy')
	    AND c.relkind IN ('r', 'p', 'v', 'S')
	    AND pg_get_userbyid(c.relowner) <> 'slipway_' || n.nspname
	    AND NOT EXISTS (SELECT FROM pg_depend d
	        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
	        AND d.deptype IN ('a', 'i')) LOOP
		EXECUTE format('ALTER %s %I.%I OWNER TO %I', o.kind, o.nspname,
		    o.relname, 'slipway_' || o.nspname);
	END LOOP;
END
$$;
SELECT pg_reload_conf();
EOF
		fail_part postgres "$RUN/pg-roles.log" "creating schemas failed"
}

pg_pidfile() { echo "$(pg_dir)/data/postmaster.pid"; }

pg_up() {
	[[ -n $PG_BIN && -x $PG_BIN/initdb ]] || die "postgres: initdb not found (run scripts/setup.sh)"
	local dir pid
	dir=$(pg_dir)
	if pid=$(pid_of "$dir/data/postmaster.pid" postgres 2>/dev/null); then
		say "postgres already running (pid $pid)"
	else
		port_free postgres "$PG_PORT"
		pg_init "$dir"
		pg_hba_write "$dir"
		# The log sits in the cluster dir: the postgres user writes it.
		pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -o "-p $PG_PORT" \
			-w -t "$TIMEOUT" -s start >"$RUN/pg-ctl.log" 2>&1 9>&- ||
			fail_part postgres "$dir/postgres.log" "pg_ctl start failed ($(<"$RUN/pg-ctl.log"))"
	fi
	wait_ready postgres "$dir/postgres.log" "$TIMEOUT" "" "" pg_ready
	pg_hba_write "$dir"
	pg_roles
	say "postgres up on 127.0.0.1:$PG_PORT (database slipway)"
}

pg_down() {
	local dir
	[[ -s $STATE/pg.dir ]] || return 0
	dir=$(<"$STATE/pg.dir")
	pid_of "$dir/data/postmaster.pid" postgres >/dev/null 2>&1 || return 0
	pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -s -t 30 stop || true
	say "postgres stopped"
}

pg_status() {
	[[ -s $STATE/pg.dir ]] && pid_of "$(<"$STATE/pg.dir")/data/postmaster.pid" postgres >/dev/null && pg_ready
}

# --- Redis -----------------------------------------------------------------

# One ACL user per service, each with only its keys and commands; `default`
# is off, so a client without credentials can do nothing. A cache hit is
# trusted, so only component-svc writes token bindings; the webhook reads
# them and may delete one (a revocation), never write one. `admin` is for
# this script, the tests and operators. Passwords: $STATE/redis-<user>-
# password (0600); the ACL file holds their SHA-256 only.
REDIS_USERS=(admin component webhook)
declare -A REDIS_RULES=(
	[admin]='~* &* +@all'
	[component]='resetchannels -@all +set +del ~slipway:token:*'
	[webhook]='resetchannels -@all +get +set +del ~slipway:idem:* ~slipway:whid:* %R~slipway:token:* (~slipway:token:* -@all +del)'
)

redis_aclfile_write() {
	local u lines="user default off resetkeys resetchannels -@all"
	for u in "${REDIS_USERS[@]}"; do
		lines+=$'\n'$(printf 'user %s on #%s %s' "$u" \
			"$(printf '%s' "$(stack_secret "redis-$u")" | sha256sum | awk '{ print $1 }')" \
			"${REDIS_RULES[$u]}")
	done
	(umask 077 && printf '%s\n' "$lines" >"$STATE/redis/users.acl")
}

redis_ping() {
	if command -v redis-cli >/dev/null; then
		[[ $(REDISCLI_AUTH=$(stack_secret redis-admin) redis-cli --user admin \
			-h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
	else
		port_open "$REDIS_PORT"
	fi
}

redis_up() {
	if pid=$(pid_of "$RUN/redis.pid" redis-server); then
		say "redis already running (pid $pid)"
	else
		port_free redis "$REDIS_PORT"
		mkdir -p "$STATE/redis"
		redis_aclfile_write
		start_bg redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
			--appendonly no --daemonize no --dir "$STATE/redis" \
			--aclfile "$STATE/redis/users.acl"
	fi
	wait_ready redis "$RUN/redis.log" "$TIMEOUT" "$RUN/redis.pid" redis-server redis_ping
	say "redis up on 127.0.0.1:$REDIS_PORT"
}
redis_down() { stop_pid redis "$RUN/redis.pid" redis-server; }
redis_status() { pid_of "$RUN/redis.pid" redis-server >/dev/null && redis_ping; }

# --- OCI registry ----------------------------------------------------------

REGISTRY_USER=slipway

registry_password() { stack_secret registry; }

registry_write_config() {
	mkdir -p "$STATE/registry"
	(umask 077 && htpasswd -Bbn "$REGISTRY_USER" "$(registry_password)" >"$STATE/htpasswd")
	cat >"$STATE/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $STATE/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$REGISTRY_PORT, secret: local-only}
auth: {htpasswd: {realm: slipway-local, path: $STATE/htpasswd}}
EOF
}

registry_ready() {
	[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$REGISTRY_PORT/v2/") == 401 ]]
}

registry_up() {
	if pid=$(pid_of "$RUN/registry.pid" docker-registry); then
		say "registry already running (pid $pid)"
	else
		port_free registry "$REGISTRY_PORT"
		registry_write_config
		start_bg registry docker-registry serve "$STATE/registry.yml"
	fi
	wait_ready registry "$RUN/registry.log" "$TIMEOUT" "$RUN/registry.pid" docker-registry registry_ready
	say "registry up on 127.0.0.1:$REGISTRY_PORT (user $REGISTRY_USER)"
}
registry_down() { stop_pid registry "$RUN/registry.pid" docker-registry; }
registry_status() { pid_of "$RUN/registry.pid" docker-registry >/dev/null && registry_ready; }

demo_up() {
	SLIPWAY_STATE=$STATE SLIPWAY_REGISTRY_HOST=127.0.0.1:$REGISTRY_PORT \
		SLIPWAY_REGISTRY_USER=$REGISTRY_USER SLIPWAY_REGISTRY_PASSWORD=$(registry_password) \
		bash "$HERE/demo-image.sh" || die "demo image: build or push failed"
}

# --- podman (Docker Engine API) --------------------------------------------

PODMAN_DIR=$STATE/containers
SOCK=$STATE/podman.sock
export CONTAINERS_CONF=$PODMAN_DIR/containers.conf
export CONTAINERS_REGISTRIES_CONF=$PODMAN_DIR/registries.conf
export CONTAINERS_STORAGE_CONF=$PODMAN_DIR/storage.conf

podman_write_config() {
	mkdir -p "$PODMAN_DIR/storage" "$PODMAN_DIR/run" "$PODMAN_DIR/tmp" "$PODMAN_DIR/networks"
	# crun refuses hybrid cgroups, hence runc; the host caps RLIMIT_NOFILE and
	# RLIMIT_NPROC, hence the ulimits; file locks keep this store's locks away
	# from any other podman store on the machine (the default shm segment is
	# shared by all of them).
	cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "slirp4netns"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PODMAN_DIR/events.log"
tmp_dir = "$PODMAN_DIR/tmp"
lock_type = "file"

[network]
network_config_dir = "$PODMAN_DIR/networks"
EOF
	cat >"$CONTAINERS_REGISTRIES_CONF" <<EOF
unqualified-search-registries = []

[[registry]]
location = "127.0.0.1:$REGISTRY_PORT"
insecure = true
EOF
	cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "overlay"
graphroot = "$PODMAN_DIR/storage"
runroot = "$PODMAN_DIR/run"
EOF
}

podman_ping() {
	[[ $(curl -s --max-time 2 --unix-socket "$SOCK" http://d/v1.41/_ping) == OK ]]
}

podman_up() {
	if pid=$(pid_of "$RUN/podman.pid" 'system service'); then
		say "podman service already running (pid $pid)"
	else
		podman_write_config
		rm -f "$SOCK"
		start_bg podman podman --log-level=warn system service --time=0 "unix://$SOCK"
	fi
	wait_ready podman "$RUN/podman.log" "$TIMEOUT" "$RUN/podman.pid" 'system service' podman_ping
	say "podman service up on $SOCK"
}

# podman_clean removes the platform's containers, then stops any other
# container of this private store so no conmon outlives the stack.
podman_clean() {
	[[ -f $CONTAINERS_STORAGE_CONF ]] || return 0
	local ids
	ids=$(podman ps -aq --filter label=slipway.managed=true 2>/dev/null || true)
	if [[ -n $ids ]]; then
		# shellcheck disable=SC2086
		podman rm -f -t 2 $ids >/dev/null 2>&1 || true
		say "removed $(wc -w <<<"$ids") slipway container(s)"
	fi
	ids=$(podman ps -q 2>/dev/null || true)
	# shellcheck disable=SC2086
	[[ -z $ids ]] || podman stop -t 2 $ids >/dev/null 2>&1 || true
}

podman_down() {
	podman_clean
	stop_pid podman "$RUN/podman.pid" 'system service'
	rm -f "$SOCK"
}
podman_status() { pid_of "$RUN/podman.pid" 'system service' >/dev/null && podman_ping; }

# --- HAProxy (the data plane's gateway) -------------------------------------

GATEWAY_DIR=$STATE/gateway
GATEWAY_SOCKET=$GATEWAY_DIR/haproxy.sock
GATEWAY_MASTER_SOCKET=$GATEWAY_DIR/master.sock
B=$GATEWAY_PORT_BASE
GATEWAY_LISTENERS=${SLIPWAY_GATEWAY_LISTENERS:-development=127.0.0.1:$B,127.0.0.1:$((B + 100));production=127.0.0.1:$((B + 1)),127.0.0.1:$((B + 101))}
GATEWAY_TCP_PORTS=${SLIPWAY_GATEWAY_TCP_PORTS:-$((B + 220))-$((B + 319))}
unset B

# haproxy_write_config writes the start-up file from
# deploy/gateway/haproxy-bootstrap.cfg (the gateway container's too): the
# runtime API socket the agent drives, nothing routed yet. From then on the
# dataplane-agent owns haproxy.cfg (and the maps beside it): it renders them
# from its model and reloads HAProxy through the master socket.
# Once the agent has written its configuration, that one is the truth: a
# restarted HAProxy comes back with every route, before the agent notices.
haproxy_write_config() {
	local cfg
	mkdir -p "$GATEWAY_DIR"
	[[ -s $GATEWAY_DIR/haproxy.cfg ]] && grep -q '^backend \|^frontend ' "$GATEWAY_DIR/haproxy.cfg" && return 0
	cfg=$(<"$REPO/deploy/gateway/haproxy-bootstrap.cfg")
	cfg=${cfg//@GATEWAY_SOCKET@/"$GATEWAY_SOCKET"}
	cfg=${cfg//@GATEWAY_DIR@/"$GATEWAY_DIR"}
	printf '%s\n' "$cfg" >"$GATEWAY_DIR/haproxy.cfg"
}

# haproxy_ready: the master CLI answers and lists a worker.
haproxy_ready() {
	if command -v socat >/dev/null; then
		echo 'show proc' | socat -t 2 - "UNIX-CONNECT:$GATEWAY_MASTER_SOCKET" 2>/dev/null |
			grep -q ' worker '
	else
		[[ -S $GATEWAY_MASTER_SOCKET && -S $GATEWAY_SOCKET ]]
	fi
}

haproxy_up() {
	local pid p
	if pid=$(pid_of "$RUN/haproxy.pid" "$GATEWAY_MASTER_SOCKET"); then
		say "haproxy already running (pid $pid)"
	else
		command -v haproxy >/dev/null || die "haproxy: not installed (run scripts/setup.sh)"
		# A unix socket path holds at most 107 bytes.
		((${#GATEWAY_MASTER_SOCKET} < 100)) ||
			die "haproxy: $GATEWAY_DIR is too long a path for its sockets; use a shorter SLIPWAY_STATE"
		for p in $(grep -o ':[0-9]*' <<<"$GATEWAY_LISTENERS" | tr -d :); do
			port_free haproxy "$p"
		done
		haproxy_write_config
		rm -f "$GATEWAY_SOCKET" "$GATEWAY_MASTER_SOCKET"
		start_bg haproxy haproxy -W -S "$GATEWAY_MASTER_SOCKET,mode,600" -f "$GATEWAY_DIR/haproxy.cfg"
	fi
	wait_ready haproxy "$RUN/haproxy.log" "$TIMEOUT" "$RUN/haproxy.pid" "$GATEWAY_MASTER_SOCKET" haproxy_ready
	say "haproxy up (gateway listeners $GATEWAY_LISTENERS, TCP ports $GATEWAY_TCP_PORTS)"
}

# haproxy_down: SIGTERM to the master stops its workers too.
haproxy_down() {
	stop_pid haproxy "$RUN/haproxy.pid" "$GATEWAY_MASTER_SOCKET"
	rm -f "$GATEWAY_SOCKET" "$GATEWAY_MASTER_SOCKET"
}
haproxy_status() { pid_of "$RUN/haproxy.pid" "$GATEWAY_MASTER_SOCKET" >/dev/null && haproxy_ready; }

# --- stack.env ---------------------------------------------------------------

write_env() {
	local pw
	pw=$(registry_password)
	(
		umask 077
		cat >"$STATE/stack.env" <<EOF
# Written by scripts/stack.sh up; source it to reach the local stack.
export SLIPWAY_STATE='$STATE'
export SLIPWAY_KAFKA_BROKERS='127.0.0.1:$KAFKA_PORT'
# One Kafka principal per service (SCRAM), each with its own ACLs; a
# data-plane agent's comes from "stack.sh kafka-principal DP"
# ($STATE/kafka-agent-DP-password); admin is for operators and tests.
export SLIPWAY_KAFKA_SECURITY_PROTOCOL='sasl_plaintext'
export SLIPWAY_KAFKA_SASL_MECHANISM='$KAFKA_MECHANISM'
export SLIPWAY_KAFKA_REGISTRY_SVC_PASSWORD='$(stack_secret kafka-registry-svc)'
export SLIPWAY_KAFKA_COMPONENT_SVC_PASSWORD='$(stack_secret kafka-component-svc)'
export SLIPWAY_KAFKA_DEPLOY_SVC_PASSWORD='$(stack_secret kafka-deploy-svc)'
export SLIPWAY_KAFKA_WEBHOOK_INGRESS_PASSWORD='$(stack_secret kafka-webhook-ingress)'
export SLIPWAY_KAFKA_ADMIN_PASSWORD='$(stack_secret kafka-admin)'
# One Postgres role and one Redis user per service (see docs/internals.md);
# the admin URL is the superuser over the unix socket, for operators/tests.
export SLIPWAY_PG_REGISTRY_URL='$(pg_url registry)'
export SLIPWAY_PG_COMPONENT_URL='$(pg_url component)'
export SLIPWAY_PG_DEPLOY_URL='$(pg_url deploy)'
export SLIPWAY_PG_WEBHOOK_URL='$(pg_url webhook)'
export SLIPWAY_PG_ADMIN_URL='postgresql://postgres@/slipway?host=$(pg_dir)&port=$PG_PORT'
export SLIPWAY_REDIS_HOST='127.0.0.1'
export SLIPWAY_REDIS_PORT='$REDIS_PORT'
export SLIPWAY_REDIS_COMPONENT_PASSWORD='$(stack_secret redis-component)'
export SLIPWAY_REDIS_WEBHOOK_PASSWORD='$(stack_secret redis-webhook)'
export SLIPWAY_REDIS_ADMIN_PASSWORD='$(stack_secret redis-admin)'
export SLIPWAY_REGISTRY_HOST='127.0.0.1:$REGISTRY_PORT'
export SLIPWAY_REGISTRY_USER='$REGISTRY_USER'
export SLIPWAY_REGISTRY_PASSWORD='$pw'
export SLIPWAY_ENGINE_SOCKET='$SOCK'
export SLIPWAY_INSECURE_REGISTRIES='127.0.0.1:$REGISTRY_PORT'
export CONTAINERS_CONF='$CONTAINERS_CONF'
export CONTAINERS_REGISTRIES_CONF='$CONTAINERS_REGISTRIES_CONF'
export CONTAINERS_STORAGE_CONF='$CONTAINERS_STORAGE_CONF'
export SLIPWAY_DEMO_IMAGE='127.0.0.1:$REGISTRY_PORT/demo/hello:v1'
export SLIPWAY_GATEWAY_DIR='$GATEWAY_DIR'
export SLIPWAY_GATEWAY_SOCKET='$GATEWAY_SOCKET'
export SLIPWAY_GATEWAY_MASTER_SOCKET='$GATEWAY_MASTER_SOCKET'
export SLIPWAY_GATEWAY_LISTENERS='$GATEWAY_LISTENERS'
export SLIPWAY_GATEWAY_TCP_PORTS='$GATEWAY_TCP_PORTS'
EOF
	)
}

# --- commands ----------------------------------------------------------------

PARTS=(kafka pg redis registry podman haproxy)
declare -A LABEL=([kafka]=kafka [pg]=postgres [redis]=redis [registry]=registry [podman]=podman [haproxy]=haproxy)

# lock serialises concurrent up/down on the same state dir. The parts are
# started with fd 9 closed, so they never hold the lock.
lock() {
	command -v flock >/dev/null || return 0
	exec 9>"$STATE/.stack.lock"
	flock -w 300 9 || die "another stack.sh holds $STATE/.stack.lock"
}

cmd_up() {
	local t0=$SECONDS
	lock
	mkdir -p "$RUN"
	kafka_up
	pg_up
	redis_up
	registry_up
	demo_up
	podman_up
	haproxy_up
	write_env
	say "up in $((SECONDS - t0))s; environment in $STATE/stack.env"
}

cmd_down() {
	lock
	mkdir -p "$RUN"
	haproxy_down
	podman_down
	registry_down
	redis_down
	pg_down
	kafka_down
	rm -f "$STATE/stack.env"
}

cmd_status() {
	local p rc=0
	mkdir -p "$RUN"
	for p in "${PARTS[@]}"; do
		if "${p}_status" 2>/dev/null; then
			printf '%-9s up\n' "${LABEL[$p]}"
		else
			printf '%-9s down\n' "${LABEL[$p]}"
			rc=3
		fi
	done
	return $rc
}

cmd_kafka_principal() {
	[[ $# -eq 1 ]] || die "usage: $0 kafka-principal DATAPLANE"
	lock
	mkdir -p "$RUN"
	kafka_principal "$1"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
kafka-principal) shift && cmd_kafka_principal "$@" ;;
*)
	echo "usage: $0 up|down|status|kafka-principal DATAPLANE" >&2
	exit 2
	;;
esac
