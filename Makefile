# Slipway — build, run and test.
#
#   make            build every service, the CLI and libslipway into build/
#   make run        install what is missing, build, bring the platform up (foreground)
#   make test       install what is missing, build, run unit + black-box tests
#   make asan       the whole test suite under ASan + UBSan (build-asan/)
#   make fuzz       build and briefly run the libFuzzer targets (clang)
#   make kube       build the tests' kube-apiserver once (~/.cache/slipway)
#   make bench      benchmarks (not part of make test)
#   make install    PREFIX=/usr/local DESTDIR=

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
PKGS    := rdkafka libprotobuf-c libevent libevent_pthreads hiredis libpq libcurl jansson yaml-0.1 libsodium

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2
ifeq ($(CI),true)
WARN    += -Werror
endif
OPT     ?= -O2 -g
SAN     ?=
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) $(SAN) $(WARN) -isystem $(BUILD)/gen -Iservices/lib \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Every binary gets the same library list; --as-needed keeps in its NEEDED
# only the libraries it calls (component-svc never loads libcurl and its
# dozen dependencies: ~100 kB private, ~700 kB resident per process). Debian's
# gcc passes it already; clang and other distributions' gcc do not.
# `readelf -d $(BUILD)/bin/X | grep NEEDED` shows what each one loads.
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
LDFLAGS := $(SAN) -Wl,--as-needed

# The build needs the -dev packages; the workflow targets install them first
# (scripts/setup.sh) and build in a sub-make, so only a bare build stops here.
ifneq ($(shell pkg-config --exists $(PKGS) 2>/dev/null && echo yes),yes)
ifeq ($(filter setup kafka kube test run asan fuzz bench stack-up stack-down clean format,$(MAKECMDGOALS)),)
$(error build dependencies missing (pkg-config: $(PKGS)); run 'make setup', or 'make test' / 'make run', which install them)
endif
endif

SERVICES := registry-svc component-svc deploy-svc webhook-ingress dataplane-agent
# Operator tools built like a service (one folder, no migrations).
TOOLS    := slipway-kafka-acl

PROTOS     := $(wildcard proto/slipway/v1/*.proto)
PROTO_C    := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H    := $(PROTO_C:.c=.h)
PROTO_O    := $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(PROTO_C))

LIB_SRC    := $(wildcard services/lib/*.c)
LIB_O      := $(patsubst services/%.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(PROTO_O)
LIB_A      := $(BUILD)/lib/libslipway.a

BINS       := $(addprefix $(BUILD)/bin/,$(SERVICES) $(TOOLS) slipway)

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all run test unit e2e asan fuzz bench clean install setup kafka kube stack-up stack-down format
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BINS)

# --- generated protobuf-c code (never committed) ---------------------------
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c -Iproto --c_out=$(BUILD)/gen $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) $(SAN) -I$(BUILD)/gen $(shell pkg-config --cflags libprotobuf-c) -c -o $@ $<

# --- libslipway --------------------------------------------------------------
$(BUILD)/obj/%.o: services/%.c $(PROTO_H) $(wildcard services/lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB_A): $(LIB_O)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# --- services: every .c in the service folder plus its embedded migrations -----
define service_rule
$(1)_SRC := $$(wildcard services/$(1)/*.c)
$(1)_SQL := $$(sort $$(wildcard services/$(1)/migrations/*.sql))
$(1)_O   := $$(patsubst services/%.c,$(BUILD)/obj/%.o,$$($(1)_SRC)) \
            $$(if $$($(1)_SQL),$(BUILD)/obj/gen/$(1)_migrations.o)
$(BUILD)/gen/$(1)_migrations.c: $$($(1)_SQL) scripts/embed-sql.sh
	@mkdir -p $$(dir $$@)
	sh scripts/embed-sql.sh $(subst -,_,$(1))_migrations $$($(1)_SQL) > $$@
$(BUILD)/obj/gen/$(1)_migrations.o: $(BUILD)/gen/$(1)_migrations.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -c -o $$@ $$<
$(BUILD)/bin/$(1): $$($(1)_O) $(LIB_A)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach s,$(SERVICES) $(TOOLS),$(eval $(call service_rule,$(s))))

CLI_O := $(patsubst services/%.c,$(BUILD)/obj/%.o,$(wildcard services/cli/*.c))
$(BUILD)/bin/slipway: $(CLI_O) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --- web console (services/console): static files bundled by esbuild --------
# npm ci runs only when the lockfile changed (its stamp lives in node_modules,
# which npm ci recreates), once even when builds of several BUILD dirs start
# together (flock, then the stamp is looked at again); the bundle is rebuilt
# when a source changed.
CONSOLE_DIR   := services/console
CONSOLE_STAMP := $(CONSOLE_DIR)/node_modules/.slipway-npm-ci
CONSOLE_SRC   := $(shell find $(CONSOLE_DIR)/src -type f 2>/dev/null) \
                 $(CONSOLE_DIR)/build.mjs $(CONSOLE_DIR)/index.html
CONSOLE_OUT   := $(BUILD)/console/index.html

$(CONSOLE_STAMP): $(CONSOLE_DIR)/package-lock.json $(CONSOLE_DIR)/package.json
	cd $(CONSOLE_DIR) && flock package-lock.json sh -c 'S=node_modules/.slipway-npm-ci; \
	    { test $$S -nt package-lock.json && test $$S -nt package.json; } || \
	    npm ci --no-audit --no-fund --loglevel=error'
	@touch $@

$(CONSOLE_OUT): $(CONSOLE_SRC) $(CONSOLE_STAMP)
	node $(CONSOLE_DIR)/build.mjs $(BUILD)/console

all: $(CONSOLE_OUT)

# The console's pure logic (API errors, snippets, forms) with node's runner.
.PHONY: console-unit
console-unit: $(CONSOLE_STAMP)
	cd $(CONSOLE_DIR) && node --test test/*.test.mjs
unit: console-unit

# --- unit tests (cmocka): tests/unit/test_X.c may list extra service objects
# it needs on a line "// uses: services/deploy-svc/deploy_state.c" ----------
$(BUILD)/obj/tests/%.o: tests/unit/%.c $(PROTO_H) $(wildcard services/lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -Iservices -MMD -MP -c -o $@ $<

uses = $(patsubst services/%.c,$(BUILD)/obj/%.o,$(shell sed -n 's|^// uses: ||p' $(1)))
.SECONDEXPANSION:
$(BUILD)/tests/test_%: $(BUILD)/obj/tests/test_%.o $$(call uses,tests/unit/test_$$*.c) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# --- workflows ---------------------------------------------------------------
setup:
	@sh scripts/setup.sh

kafka: setup
	@sh scripts/kafka-fetch.sh

unit: $(UNIT_BINS)
	@sh scripts/run-unit.sh $(UNIT_BINS)

# The Kubernetes runtime's tests run against a real kube-apiserver, built
# once into ~/.cache/slipway (a few minutes the first time) with etcd-server.
kube: setup
	@sh scripts/kube-apiserver.sh >/dev/null

e2e: all kafka kube
	SLIPWAY_BUILD=$(BUILD) python3 -m pytest -q tests/e2e

test: setup
	$(MAKE) all unit
	$(MAKE) e2e

run: setup
	$(MAKE) all kafka
	SLIPWAY_BUILD=$(BUILD) bash scripts/run.sh

# Any sanitizer report fails the run: UBSan stops at the first finding, LSan
# checks at exit; the e2e harness also scans the service logs for reports.
asan: setup
	ASAN_OPTIONS="$${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}" \
	UBSAN_OPTIONS="$${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}" \
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

fuzz: setup
	@sh scripts/fuzz.sh

# The hot-path table of issue 9 (~12 min on 2 cores; BENCH_ARGS=--quick
# for a short development run, --scale F, --skip PARTS: tests/bench/run.sh).
bench: setup
	$(MAKE) all kafka $(BUILD)/bench/http_handoff
	SLIPWAY_BUILD=$(BUILD) bash tests/bench/run.sh $(BENCH_ARGS)

# lib http's io_thread hand-off beside the inline server (a bench figure).
$(BUILD)/bench/http_handoff: tests/bench/http_handoff.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_A) $(LDFLAGS) $(LDLIBS)

# stack.sh grants the Kafka ACLs with slipway-kafka-acl: built first.
stack-up: setup kafka
	$(MAKE) $(BUILD)/bin/slipway-kafka-acl
	SLIPWAY_BUILD=$(BUILD) bash scripts/stack.sh up

stack-down:
	bash scripts/stack.sh down

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

format:
	clang-format -i services/*/*.c services/*/*.h tests/unit/*.c

clean:
	rm -rf build build-asan build-fuzz
