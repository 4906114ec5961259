/*
 * kube.h: a small Kubernetes API client (libcurl + jansson) for the agent's
 * Kubernetes runtime, and the pure helpers that name and place its objects.
 *
 * The client speaks to one API server with a bearer token, trusting a CA
 * file (or, with no configuration, the in-cluster service account). Objects
 * are applied with server-side apply (field manager "slipway", forced), so
 * the agent owns exactly the fields it sets and a re-apply is idempotent.
 * No call keeps a handle between calls: any thread may use one struct kube.
 */
#ifndef SLIPWAY_KUBE_H
#define SLIPWAY_KUBE_H

#include <stdatomic.h>
#include <stddef.h>
#include <jansson.h>

#include "error.h"

#define KUBE_NAME_MAX   64      /* a DNS-1123 label: 63 characters + NUL */
#define KUBE_PATH_MAX   1024
#define KUBE_BODY_MAX   (8 * 1024 * 1024)   /* what one answer may carry */
#define KUBE_EVENT_MAX  (4 * 1024 * 1024)   /* one watch event (a line) */
#define KUBE_RV_MAX     64
#define KUBE_FIELD_MANAGER "slipway"

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Where the API server is and how to prove who we are. */
struct kube_config {
	const char *server;      /* https://host:port; "" = in-cluster */
	const char *token_file;  /* "" = the service account's */
	const char *ca_file;     /* "" = the service account's (in-cluster) */
	int timeout_s;           /* per request; 0 = 20 */
};

/* The kinds the runtime applies: where each lives in the API. */
enum kube_kind {
	KUBE_NAMESPACE, KUBE_SECRET, KUBE_SERVICE, KUBE_DEPLOYMENT,
	KUBE_CRONJOB, KUBE_JOB, KUBE_POD,
	KUBE_HTTPROUTE, KUBE_GRPCROUTE, KUBE_INGRESS, KUBE_NETWORKPOLICY,
	KUBE_CONFIGMAP, KUBE_KIND_MAX
};
struct kube_kind_info {
	const char *kind;
	const char *api_version;  /* "v1", "apps/v1" */
	const char *resource;     /* plural: "deployments" */
	int namespaced;
};
const struct kube_kind_info *kube_kind_info(enum kube_kind k);

struct kube;
/* Reads the token (and checks the CA file); NULL with err on failure. */
struct kube *kube_new(const struct kube_config *c, struct error *err);
void kube_free(struct kube *k);

/*
 * One request. body may be NULL; *out (when out != NULL) gets the parsed
 * JSON answer (NULL when it had none or was not JSON; caller decrefs).
 * Returns the HTTP status, or -1 with err when the server was not reached.
 */
int kube_request(struct kube *k, const char *method, const char *path,
    const char *content_type, const char *body, json_t **out,
    struct error *err);
/* 1 when the API server answers /readyz with 200. */
int kube_ping(struct kube *k);
/*
 * Server-side apply of obj (its kind, apiVersion, metadata.name and, when
 * namespaced, metadata.namespace say where); *out the object as stored.
 */
int kube_apply(struct kube *k, enum kube_kind kind, json_t *obj,
    json_t **out, struct error *err);
/* 0 with *out, 1 when absent (404), -1 with err. */
int kube_get(struct kube *k, enum kube_kind kind, const char *ns,
    const char *name, json_t **out, struct error *err);
/* 0 deleted or already absent, -1 with err. */
int kube_delete(struct kube *k, enum kube_kind kind, const char *ns,
    const char *name, struct error *err);
/* The List of kind in ns matching selector (may be ""); caller decrefs. */
int kube_list(struct kube *k, enum kube_kind kind, const char *ns,
    const char *selector, json_t **out, struct error *err);

/*
 * Watches (list + watch): fn gets every event's type (ADDED, MODIFIED,
 * DELETED, BOOKMARK) and object, and returns 1 to stop. rv holds the
 * resourceVersion to start from and is moved on with every event, so a
 * call after a disconnect resumes where the stream broke off.
 */
typedef int (*kube_watch_fn)(void *arg, const char *type, json_t *obj);
struct kube_watch_stream {
	char *buf;                /* an incomplete line */
	size_t n;
	char *rv;                 /* the caller's resourceVersion buffer */
	size_t rvlen;
	kube_watch_fn fn;
	void *arg;
	int stopped;              /* fn said stop */
	int gone;                 /* 410: rv too old, list again */
	int bad;                  /* a line that was not an event */
};
/*
 * Watches kind in ns (NULL: all) whose fields match field_selector (may be
 * NULL) from rv for at most timeout_s. 1 when fn stopped it, 0 when the
 * stream ended (the server's timeout or a disconnect: call again), 2 when
 * rv is too old (410 Gone: list again), -1 with err (not reached, refused,
 * or *stop set).
 */
int kube_watch(struct kube *k, enum kube_kind kind, const char *ns,
    const char *field_selector, char *rv, size_t rvlen, int timeout_s,
    const atomic_int *stop, kube_watch_fn fn, void *arg, struct error *err);
/* The pure part: feeds stream bytes; 0 to go on, -1 to end the stream. */
int kube_watch_feed(struct kube_watch_stream *w, const char *data,
    size_t len);
void kube_watch_stream_clear(struct kube_watch_stream *w);

/* --- pure helpers (unit-tested) -------------------------------------------- */
/*
 * The API path of kind: the collection when name is NULL, else the object;
 * ns is ignored for cluster-scoped kinds, and a namespaced collection
 * with ns NULL is the list across all namespaces. query (NULL or "a=b&c=d")
 * is appended. -1 when it does not fit or ns/name is missing or unsafe.
 */
int kube_path(char *buf, size_t len, enum kube_kind kind, const char *ns,
    const char *name, const char *query);
/*
 * A DNS-1123 label from s: lower-cased, every other character '-', runs of
 * '-' folded, no '-' at either end; "x" when nothing is left. When that is
 * longer than max (<= 63), it is cut and "-" + 8 hex of SHA-256(s) is
 * appended, so distinct inputs stay distinct and the name is stable.
 */
void kube_dns_label(const char *s, size_t max, char out[KUBE_NAME_MAX]);
/* "slipway-<org>-<environment>" as a DNS-1123 label. */
void kube_namespace_name(const char *org, const char *environment,
    char out[KUBE_NAME_MAX]);
/*
 * "<component>-<8 hex of SHA-256(component_id)>": readable, and unique per
 * component in a namespace shared by the org's projects. suffix (NULL or
 * e.g. "pull") is added before the hash.
 */
void kube_object_name(const char *component, const char *component_id,
    const char *suffix, char out[KUBE_NAME_MAX]);
/* 1 when s is a DNS-1123 label (what the API server requires of names). */
int kube_dns_label_valid(const char *s);
/* A label selector "k=v,k=v" from key, value, ..., NULL; -1 when too long. */
int kube_selector(char *buf, size_t len, const char *const *kv);

#endif
