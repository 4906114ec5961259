/*
 * bus_security.h: how every Kafka client of a process authenticates to the
 * brokers: plaintext (a local bus without SASL), SASL over plaintext (the
 * local stack) or SASL over TLS (production).
 *
 * The settings are rows of the service's own config table
 * (CONFIG_VARS_KAFKA_SECURITY), so --help and --check-config show them like
 * every other variable, the password as "<set>". bus.c asks for the
 * librdkafka settings of every client it builds (producer, consumer, admin)
 * through bus_security_settings(); the first call checks the combination and
 * reads the password file, once per process. The password is never logged.
 */
#ifndef SLIPWAY_BUS_SECURITY_H
#define SLIPWAY_BUS_SECURITY_H

#include <stddef.h>
#include "config.h"
#include "error.h"

struct bus_security_config {
	char *protocol;       /* plaintext | sasl_plaintext | sasl_ssl */
	char *mechanism;      /* SCRAM-SHA-256 | SCRAM-SHA-512 | PLAIN */
	char *username;
	char *password;       /* secret; or password_file */
	char *password_file;  /* private file (mode 0600) holding the password */
	char *ca_file;        /* sasl_ssl: CA bundle; NULL = the system's */
};

/* Filled by config_load() through the rows below. */
extern struct bus_security_config bus_security_cfg;

#define CONFIG_VARS_KAFKA_SECURITY \
	{ "SLIPWAY_KAFKA_SECURITY_PROTOCOL", CONFIG_STRING, "plaintext", 0, \
	  "plaintext | sasl_plaintext | sasl_ssl", &bus_security_cfg.protocol }, \
	{ "SLIPWAY_KAFKA_SASL_MECHANISM", CONFIG_STRING, "SCRAM-SHA-256", 0, \
	  "SASL mechanism: SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN", \
	  &bus_security_cfg.mechanism }, \
	{ "SLIPWAY_KAFKA_USERNAME", CONFIG_STRING, "", 0, \
	  "SASL user (the service's Kafka principal); required with SASL", \
	  &bus_security_cfg.username }, \
	{ "SLIPWAY_KAFKA_PASSWORD", CONFIG_STRING, "", CONFIG_SECRET, \
	  "password of SLIPWAY_KAFKA_USERNAME (or SLIPWAY_KAFKA_PASSWORD_FILE)", \
	  &bus_security_cfg.password }, \
	{ "SLIPWAY_KAFKA_PASSWORD_FILE", CONFIG_KEY_FILE, NULL, 0, \
	  "private file holding the SASL password (one line)", \
	  &bus_security_cfg.password_file }, \
	{ "SLIPWAY_KAFKA_CA_FILE", CONFIG_FILE, NULL, 0, \
	  "sasl_ssl: CA certificates of the brokers (PEM); unset = the system's", \
	  &bus_security_cfg.ca_file }

/* Room bus_security_settings() needs: name/value pairs and the NULL. */
#define BUS_SECURITY_KV_MAX 13

/*
 * Fills kv with the librdkafka settings (name, value, ..., NULL) for the
 * configured protocol; the values stay valid for the life of the process.
 * The first call validates the combination (SASL needs a user and exactly
 * one of password and password file; a CA file only with sasl_ssl) and
 * reads the password file; a failure is remembered and returned again.
 * Returns 0, or -1 with err naming the variable. Thread-safe.
 */
int bus_security_settings(const char **kv, size_t max, struct error *err);
/* Forgets what the first call read (tests; the password is wiped). */
void bus_security_reset(void);

#endif
