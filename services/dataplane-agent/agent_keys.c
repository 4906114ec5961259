/*
 * agent_keys.c: the data plane's crypto_box keypair. registry-svc seals
 * registry credentials to the public key; only this file's secret key opens
 * them. The file is {"public_key":"<b64>","secret_key":"<b64>"}, mode 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>
#include <sodium.h>

#include "agent.h"

#define KEYS_FILE_MAX 4096

void
agent_keys_wipe(struct agent_keys *k)
{
	sodium_memzero(k, sizeof(*k));
}

/* Writes all of buf to a new file at path, mode 0600. */
static int
keys_write(const char *path, int force, const char *buf, size_t len,
    struct error *err)
{
	int fd;
	ssize_t n;

	if (force && unlink(path) == -1 && errno != ENOENT) {
		error_set(err, "io_error", "out", "cannot replace %s: %s", path,
		    strerror(errno));
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		error_set(err, errno == EEXIST ? "exists" : "io_error", "out",
		    errno == EEXIST ? "%s exists (use --force to replace it)" :
		    "cannot create %s", path);
		return -1;
	}
	n = write(fd, buf, len);
	if (n != (ssize_t)len || fsync(fd) == -1) {
		close(fd);
		unlink(path);
		error_set(err, "io_error", "out", "cannot write %s", path);
		return -1;
	}
	close(fd);
	return 0;
}

int
agent_keys_generate(const char *path, int force, struct error *err)
{
	struct agent_keys k;
	char *pk64, *sk64, *js = NULL;
	json_t *o = NULL;
	int rc = -1;

	crypto_box_keygen(k.pk, k.sk);
	pk64 = crypto_b64_encode(k.pk, sizeof(k.pk));
	sk64 = crypto_b64_encode(k.sk, sizeof(k.sk));
	if (pk64 != NULL && sk64 != NULL)
		o = json_pack("{s:s, s:s}", "public_key", pk64, "secret_key", sk64);
	if (o != NULL)
		js = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	if (js == NULL)
		error_set(err, "internal", "", "out of memory");
	else if (keys_write(path, force, js, strlen(js), err) == 0) {
		printf("%s\n", pk64);
		rc = 0;
	}
	if (js != NULL) {
		sodium_memzero(js, strlen(js));
		free(js);
	}
	if (sk64 != NULL) {
		sodium_memzero(sk64, strlen(sk64));
		free(sk64);
	}
	free(pk64);
	agent_keys_wipe(&k);
	return rc;
}

/* Decodes a base64 member of exactly want bytes into out. */
static int
keys_member(json_t *o, const char *name, unsigned char *out, size_t want,
    struct error *err)
{
	json_t *v = json_object_get(o, name);
	unsigned char *raw;
	size_t len = 0;

	if (!json_is_string(v) ||
	    (raw = crypto_b64_decode(json_string_value(v), &len)) == NULL) {
		error_set(err, "invalid_key_file", name, "%s is missing or not "
		    "base64", name);
		return -1;
	}
	if (len == want)
		memcpy(out, raw, want);
	sodium_memzero(raw, len);
	free(raw);
	if (len != want) {
		error_set(err, "invalid_key_file", name, "%s is not %zu bytes",
		    name, want);
		return -1;
	}
	return 0;
}

/*
 * Reads the whole (small) file, refusing one that group or others may read
 * or change: it holds the key that opens every sealed credential.
 */
static int
keys_read(const char *path, char *buf, size_t cap, size_t *len,
    struct error *err)
{
	struct stat st;
	int fd;
	ssize_t n;

	if ((fd = crypto_key_file_open(path, err)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || st.st_size <= 0 ||
	    (size_t)st.st_size >= cap) {
		close(fd);
		error_set(err, "invalid_key_file", "", "cannot read key file %s",
		    path);
		return -1;
	}
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0) {
		error_set(err, "invalid_key_file", "", "cannot read %s", path);
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

int
agent_keys_load(const char *path, struct agent_keys *k, struct error *err)
{
	char buf[KEYS_FILE_MAX];
	unsigned char derived[CRYPTO_PK_LEN];
	size_t len = 0;
	json_t *o;
	int rc = -1;

	if (keys_read(path, buf, sizeof(buf), &len, err) == -1)
		return -1;
	o = json_loadb(buf, len, 0, NULL);
	sodium_memzero(buf, sizeof(buf));
	if (!json_is_object(o)) {
		json_decref(o);
		error_set(err, "invalid_key_file", "", "%s is not a JSON object",
		    path);
		return -1;
	}
	if (keys_member(o, "public_key", k->pk, sizeof(k->pk), err) == 0 &&
	    keys_member(o, "secret_key", k->sk, sizeof(k->sk), err) == 0) {
		/* A pk that does not match sk would silently open nothing. */
		crypto_scalarmult_base(derived, k->sk);
		if (sodium_memcmp(derived, k->pk, sizeof(derived)) == 0)
			rc = 0;
		else
			error_set(err, "invalid_key_file", "", "public_key does "
			    "not belong to secret_key");
	}
	json_decref(o);    /* jansson does not wipe; the process owns it anyway */
	if (rc == -1)
		agent_keys_wipe(k);
	return rc;
}
