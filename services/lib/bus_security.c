/*
 * bus_security.c: the SASL/TLS settings of every Kafka client, checked and
 * read once per process (see bus_security.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "bus_security.h"
#include "crypto.h"
#include "log.h"

#define BUS_PASSWORD_MAX 1024

struct bus_security_config bus_security_cfg;

static struct {
	pthread_mutex_t lock;
	int state;                      /* 0 not yet, 1 loaded, -1 failed */
	struct error why;               /* the failure, returned again */
	char protocol[16];              /* librdkafka's spelling */
	char password[BUS_PASSWORD_MAX];
} bus_sec = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int
bus_security_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* Reads the one-line password file; a trailing newline is not part of it. */
static int
bus_security_read_file(const char *path, struct error *err)
{
	struct error why;
	ssize_t n;
	int fd;

	if ((fd = crypto_key_file_open(path, &why)) < 0) {
		error_set(err, "invalid_config", "SLIPWAY_KAFKA_PASSWORD_FILE",
		    "SLIPWAY_KAFKA_PASSWORD_FILE: %s", why.msg);
		return -1;
	}
	n = read(fd, bus_sec.password, sizeof(bus_sec.password));
	close(fd);
	if (n < 0 || (size_t)n >= sizeof(bus_sec.password)) {
		error_set(err, "invalid_config", "SLIPWAY_KAFKA_PASSWORD_FILE",
		    "SLIPWAY_KAFKA_PASSWORD_FILE: cannot read it, or longer than "
		    "%d bytes", BUS_PASSWORD_MAX - 1);
		return -1;
	}
	bus_sec.password[n] = '\0';
	bus_sec.password[strcspn(bus_sec.password, "\r\n")] = '\0';
	if (bus_sec.password[0] == '\0') {
		error_set(err, "invalid_config", "SLIPWAY_KAFKA_PASSWORD_FILE",
		    "SLIPWAY_KAFKA_PASSWORD_FILE: the file is empty");
		return -1;
	}
	return 0;
}

/* The password from exactly one of the variable and the file. */
static int
bus_security_password(const struct bus_security_config *c, struct error *err)
{
	int inline_pw = bus_security_set(c->password);
	int file = bus_security_set(c->password_file);

	if (inline_pw == file) {
		error_set(err, "invalid_config", "SLIPWAY_KAFKA_PASSWORD",
		    "SASL needs exactly one of SLIPWAY_KAFKA_PASSWORD and "
		    "SLIPWAY_KAFKA_PASSWORD_FILE");
		return -1;
	}
	if (file)
		return bus_security_read_file(c->password_file, err);
	if (strlen(c->password) >= sizeof(bus_sec.password)) {
		error_set(err, "invalid_config", "SLIPWAY_KAFKA_PASSWORD",
		    "SLIPWAY_KAFKA_PASSWORD is longer than %d bytes",
		    BUS_PASSWORD_MAX - 1);
		return -1;
	}
	snprintf(bus_sec.password, sizeof(bus_sec.password), "%s", c->password);
	return 0;
}

/* plaintext must not carry credentials: a half-done setup is an error. */
static int
bus_security_check_plaintext(const struct bus_security_config *c,
    struct error *err)
{
	if (bus_security_set(c->username) || bus_security_set(c->password) ||
	    bus_security_set(c->password_file) || bus_security_set(c->ca_file)) {
		error_set(err, "invalid_config", "SLIPWAY_KAFKA_SECURITY_PROTOCOL",
		    "SLIPWAY_KAFKA_USERNAME, _PASSWORD, _PASSWORD_FILE and "
		    "_CA_FILE need SLIPWAY_KAFKA_SECURITY_PROTOCOL sasl_plaintext "
		    "or sasl_ssl");
		return -1;
	}
	return 0;
}

static int
bus_security_check_sasl(const struct bus_security_config *c, int tls,
    struct error *err)
{
	const char *m = c->mechanism;

	if (m == NULL || (strcmp(m, "SCRAM-SHA-256") != 0 &&
	    strcmp(m, "SCRAM-SHA-512") != 0 && strcmp(m, "PLAIN") != 0)) {
		error_set(err, "invalid_config", "SLIPWAY_KAFKA_SASL_MECHANISM",
		    "SLIPWAY_KAFKA_SASL_MECHANISM must be SCRAM-SHA-256, "
		    "SCRAM-SHA-512 or PLAIN");
		return -1;
	}
	if (!bus_security_set(c->username)) {
		error_set(err, "missing_config", "SLIPWAY_KAFKA_USERNAME",
		    "SLIPWAY_KAFKA_USERNAME is required with SASL");
		return -1;
	}
	if (!tls && bus_security_set(c->ca_file)) {
		error_set(err, "invalid_config", "SLIPWAY_KAFKA_CA_FILE",
		    "SLIPWAY_KAFKA_CA_FILE needs SLIPWAY_KAFKA_SECURITY_PROTOCOL "
		    "sasl_ssl");
		return -1;
	}
	return bus_security_password(c, err);
}

/* Validates bus_security_cfg and keeps what librdkafka will be given. */
static int
bus_security_load(struct error *err)
{
	const struct bus_security_config *c = &bus_security_cfg;
	const char *p = bus_security_set(c->protocol) ? c->protocol :
	    "plaintext";

	if (strcmp(p, "plaintext") == 0) {
		snprintf(bus_sec.protocol, sizeof(bus_sec.protocol), "plaintext");
		return bus_security_check_plaintext(c, err);
	}
	if (strcmp(p, "sasl_plaintext") != 0 && strcmp(p, "sasl_ssl") != 0) {
		error_set(err, "invalid_config", "SLIPWAY_KAFKA_SECURITY_PROTOCOL",
		    "SLIPWAY_KAFKA_SECURITY_PROTOCOL must be plaintext, "
		    "sasl_plaintext or sasl_ssl");
		return -1;
	}
	snprintf(bus_sec.protocol, sizeof(bus_sec.protocol), "%s", p);
	if (bus_security_check_sasl(c, strcmp(p, "sasl_ssl") == 0, err) == -1)
		return -1;
	log_info("kafka: %s as user %s (%s)", p, c->username, c->mechanism);
	return 0;
}

/* Appends one pair when there is room (max counts the final NULL). */
static void
bus_security_kv(const char **kv, size_t *n, size_t max, const char *name,
    const char *value)
{
	if (*n + 3 > max)
		return;
	kv[(*n)++] = name;
	kv[(*n)++] = value;
}

int
bus_security_settings(const char **kv, size_t max, struct error *err)
{
	const struct bus_security_config *c = &bus_security_cfg;
	size_t n = 0;
	int rc;

	pthread_mutex_lock(&bus_sec.lock);
	if (bus_sec.state == 0) {
		error_clear(&bus_sec.why);
		bus_sec.state = bus_security_load(&bus_sec.why) == 0 ? 1 : -1;
	}
	rc = bus_sec.state == 1 ? 0 : -1;
	pthread_mutex_unlock(&bus_sec.lock);
	if (rc == -1) {
		*err = bus_sec.why;
		return -1;
	}
	bus_security_kv(kv, &n, max, "security.protocol", bus_sec.protocol);
	if (strcmp(bus_sec.protocol, "plaintext") != 0) {
		bus_security_kv(kv, &n, max, "sasl.mechanisms", c->mechanism);
		bus_security_kv(kv, &n, max, "sasl.username", c->username);
		bus_security_kv(kv, &n, max, "sasl.password", bus_sec.password);
		if (bus_security_set(c->ca_file))
			bus_security_kv(kv, &n, max, "ssl.ca.location", c->ca_file);
	}
	if (max > 0)
		kv[n] = NULL;
	return 0;
}

void
bus_security_reset(void)
{
	pthread_mutex_lock(&bus_sec.lock);
	sodium_memzero(bus_sec.password, sizeof(bus_sec.password));
	bus_sec.state = 0;
	pthread_mutex_unlock(&bus_sec.lock);
}
