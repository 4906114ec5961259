/*
 * oci_resolve.c: resolving an image reference to a manifest digest with the
 * OCI distribution API (libcurl): GET /v2/ to learn the auth scheme, a bearer
 * token from the realm when asked, then HEAD on the manifest with the full
 * Accept list (RUNTIME-NOTES.md) for Docker-Content-Digest.
 *
 * Every answer is capped (headers 64 KiB, body 4 MiB) and every request has
 * a timeout. Credentials go only to the registry host and its token realm,
 * never into a log line or an error message.
 *
 * Plain HTTP is used for hosts in SLIPWAY_INSECURE_REGISTRIES and, following
 * Docker's default insecure registries (127.0.0.0/8, ::1), for a loopback
 * registry whose TLS handshake fails. Nothing else is ever reached, or sent
 * credentials, in the clear: a token realm on http:// is followed only when
 * both the registry and the realm's host are loopback or listed
 * (regauth_realm_allowed, the rule registry-svc's test applies too).
 *
 * Every connection, to the registry and to its realm, is checked at connect
 * time against SLIPWAY_ALLOW_PRIVATE_TARGETS (regauth_guard_attach): a name
 * that resolves to a loopback, private or link-local address the operator
 * did not allow is refused, and the error says which address and why.
 * Redirects are never followed: a 3xx is a failure, so credentials never
 * go to a host the registry names in a Location.
 *
 * What the agent cannot guard: the image pull itself is done by the engine
 * (dockerd or podman, engine.c), which resolves and connects to the
 * registry, and follows its realm and blob redirects, by its own rules.
 * Only this resolver's requests pass the policy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "buf.h"
#include "agent.h"
#include "crypto.h"
#include "log.h"
#include "regauth.h"

#define OCI_BODY_MAX   (4 * 1024 * 1024)
#define OCI_HEADER_MAX (64 * 1024)
#define OCI_TOKEN_MAX  (16 * 1024)

static const char oci_accept[] = "Accept: "
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

/* One HTTP answer, as much of it as we keep. */
struct oci_resp {
	long status;
	char www_auth[2048];
	char digest[AGENT_DIGEST_MAX];
	size_t hdr_bytes;
	char *body;
	size_t len;
	CURLcode rc;              /* the transfer's; CURLE_OK: it answered */
	char curlerr[CURL_ERROR_SIZE];
	int refused;              /* curlerr is the address policy's refusal */
	int redirected;           /* a 3xx: never followed */
	char location[256];       /* the redirect's host, or "" */
};

/* How a request authenticates. */
struct oci_auth {
	const char *username;     /* basic, when not NULL */
	const char *password;
	const char *bearer;       /* bearer token, when not NULL */
	const char *form;         /* POST body (form-encoded), when not NULL */
};

static size_t
oci_header_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct oci_resp *r = arg;
	size_t len = size * n;
	char scratch[AGENT_DIGEST_MAX];

	r->hdr_bytes += len;
	if (r->hdr_bytes > OCI_HEADER_MAX)
		return 0;            /* aborts the transfer */
	/* A new status line (after a 100 Continue) starts a new answer. */
	if (len > 5 && strncmp(buf, "HTTP/", 5) == 0) {
		r->www_auth[0] = '\0';
		r->digest[0] = '\0';
		return len;
	}
	if (regauth_header(buf, len, "WWW-Authenticate", r->www_auth,
	    sizeof(r->www_auth)) == -1)
		r->www_auth[0] = '\0';
	if (regauth_header(buf, len, "Docker-Content-Digest", scratch,
	    sizeof(scratch)) == 1 && image_ref_digest_valid(scratch))
		memcpy(r->digest, scratch, sizeof(scratch));
	return len;
}

static size_t
oci_body_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct oci_resp *r = arg;
	size_t len = size * n;

	/* Returning less than len makes curl stop with a write error. */
	return buf_append(&r->body, &r->len, OCI_BODY_MAX, buf, len) == 0 ?
	    len : 0;
}

static void
oci_resp_reset(struct oci_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static void
oci_set_auth(CURL *h, const struct oci_auth *a, struct curl_slist **hdrs)
{
	char *line;
	size_t n;

	if (a->bearer != NULL) {
		n = strlen(a->bearer) + 32;
		if ((line = malloc(n)) == NULL)
			return;
		snprintf(line, n, "Authorization: Bearer %s", a->bearer);
		*hdrs = curl_slist_append(*hdrs, line);
		sodium_memzero(line, n);
		free(line);
	} else if (a->username != NULL && a->username[0] != '\0') {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, a->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD,
		    a->password != NULL ? a->password : "");
	}
}

/* What a finished transfer leaves in r beside the body and headers. */
static void
oci_fetch_outcome(CURL *h, CURLcode rc, const struct regauth_guard *g,
    struct oci_resp *r)
{
	r->rc = rc;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc == CURLE_OK) {
		r->redirected = regauth_guard_redirect(h, r->status, r->location,
		    sizeof(r->location));
		return;
	}
	r->refused = regauth_guard_refused(g, rc, r->curlerr,
	    sizeof(r->curlerr));
	if (r->curlerr[0] == '\0')
		snprintf(r->curlerr, sizeof(r->curlerr), "%s",
		    curl_easy_strerror(rc));
}

/*
 * Performs one request to a "registry" or "token realm" (kind, for the
 * refusal message). Returns 0 when an HTTP answer arrived (any status, a
 * redirect included: it is never followed), -1 on a transport failure or
 * an address the policy refuses (r->curlerr says why).
 */
static int
oci_fetch(const char *method, const char *url, const char *kind,
    const struct oci_auth *a, const struct oci_resolve_opts *o,
    struct oci_resp *r)
{
	CURL *h;
	struct curl_slist *hdrs = NULL;
	struct regauth_guard guard;
	char host[256];

	oci_resp_reset(r);
	if (regauth_url_host(url, host, sizeof(host)) == -1)
		host[0] = '\0';
	if ((h = curl_easy_init()) == NULL || regauth_guard_attach(h, &guard,
	    o->targets, "%s host %s", kind, host) == -1) {
		curl_easy_cleanup(h);
		r->rc = CURLE_OUT_OF_MEMORY;
		snprintf(r->curlerr, sizeof(r->curlerr), "out of memory");
		return -1;
	}
	hdrs = curl_slist_append(hdrs, oci_accept);
	oci_set_auth(h, a, &hdrs);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curlerr);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)o->timeout_s);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, oci_header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, oci_body_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "slipway-dataplane-agent/1");
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (a->form != NULL)   /* POST, application/x-www-form-urlencoded */
		curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, a->form);
	/*
	 * Docker's insecure-registry rule for loopback: TLS without
	 * certificate checks (a CA-signed certificate for 127.0.0.1 is rare,
	 * and the traffic never leaves the host), as the engine's pull does.
	 */
	if (regauth_host_loopback(host)) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	oci_fetch_outcome(h, curl_easy_perform(h), &guard, r);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return r->rc == CURLE_OK ? 0 : -1;
}

/* Wipes and frees a request body that holds a secret. */
static void
oci_free_secret(char *form)
{
	sodium_memzero(form, strlen(form));
	free(form);
}

/* A failed oci_fetch as an error; who: "registry X", "token server of X". */
static void
oci_fetch_error(struct error *err, const char *who, const struct oci_resp *r)
{
	if (r->refused)
		error_set(err, "registry_unreachable", "", "registry_unreachable: "
		    "%s", r->curlerr);
	else
		error_set(err, "registry_unreachable", "", "registry_unreachable: "
		    "%s: %s", who, r->curlerr);
}

/* A 3xx answer to request (e.g. "GET /v2/") as an error. */
static void
oci_redirect_error(struct error *err, const char *who, const char *request,
    const struct oci_resp *r)
{
	error_set(err, "registry_unreachable", "", "registry_unreachable: %s "
	    "answered %s with HTTP %ld (a redirect%s%s), which is not followed: "
	    "credentials are never re-sent after a redirect", who, request,
	    r->status, r->location[0] ? " to " : "", r->location);
}

/* docker.io is a name; its API lives on registry-1.docker.io. */
static const char *
oci_api_host(const char *domain)
{
	return strcmp(domain, "docker.io") == 0 ? "registry-1.docker.io" : domain;
}

/* Reads "token" (or "access_token") from a token server answer. */
static char *
oci_token_from_body(const struct oci_resp *r)
{
	json_t *root, *t;
	char *tok = NULL;

	if (r->body == NULL)
		return NULL;
	root = json_loadb((const char *)r->body, r->len, 0, NULL);
	if (root == NULL)
		return NULL;
	t = json_object_get(root, "token");
	if (!json_is_string(t) || json_string_length(t) == 0)
		t = json_object_get(root, "access_token");
	if (json_is_string(t) && json_string_length(t) > 0 &&
	    json_string_length(t) < OCI_TOKEN_MAX &&
	    strcspn(json_string_value(t), "\r\n") == json_string_length(t))
		tok = strdup(json_string_value(t));
	json_decref(root);
	return tok;
}

/*
 * An identity token's request: POST to the realm itself with
 * grant_type=refresh_token (distribution token spec, OAuth2 form); the
 * answer's access_token is the Bearer. form gets the malloc'd body.
 */
static int
oci_identity_form(const struct regauth_challenge *ch,
    const struct image_ref *ref, const struct oci_resolve_opts *o,
    char **form, char *url, size_t urllen, struct error *err)
{
	size_t len = strlen(o->password) * 3 + 1024;

	if ((*form = malloc(len)) == NULL ||
	    regauth_refresh_form(ch->service, ref->path, o->password, *form,
	    len) < 0 || (size_t)snprintf(url, urllen, "%s", ch->realm) >= urllen) {
		error_set(err, "registry_unreachable", "", "registry_unreachable: "
		    "cannot build the identity token exchange for %s", ref->domain);
		return -1;
	}
	return 0;
}

/*
 * GETs a pull token for ref from the bearer realm, or, for an identity
 * token, exchanges it there (POST grant_type=refresh_token).
 */
static int
oci_token(const struct regauth_challenge *ch, const struct image_ref *ref,
    const struct oci_resolve_opts *o, char **token, struct error *err)
{
	int identity = regauth_identity(o->username);
	struct oci_auth a = { identity ? NULL : o->username,
	    identity ? NULL : o->password, NULL, NULL };
	struct oci_resp r = { 0 };
	char url[2048], scope[400], host[256], who[300];
	char *svc, *sc, *form = NULL;
	int n, rc;

	snprintf(scope, sizeof(scope), "repository:%s:pull", ref->path);
	svc = curl_easy_escape(NULL, ch->service, 0);
	sc = curl_easy_escape(NULL, scope, 0);
	n = snprintf(url, sizeof(url), "%s%cservice=%s&scope=%s", ch->realm,
	    strchr(ch->realm, '?') != NULL ? '&' : '?', svc ? svc : "",
	    sc ? sc : "");
	curl_free(svc);
	curl_free(sc);
	if (n < 0 || (size_t)n >= sizeof(url) ||
	    regauth_url_host(ch->realm, host, sizeof(host)) == -1) {
		error_set(err, "registry_unreachable", "", "registry_unreachable: "
		    "registry %s sent an unusable token realm", ref->domain);
		return -1;
	}
	/* The credentials would go along in the clear. */
	if (!regauth_realm_allowed(ch->realm, ref->domain, o->insecure)) {
		error_set(err, "registry_unreachable", "",
		    "registry_unreachable: registry %s sent a plain-HTTP token "
		    "realm (%s); only loopback hosts and "
		    "SLIPWAY_INSECURE_REGISTRIES may use one", ref->domain, host);
		return -1;
	}
	snprintf(who, sizeof(who), "token server of %s", ref->domain);
	if (identity && oci_identity_form(ch, ref, o, &form, url, sizeof(url),
	    err) < 0) {
		if (form != NULL)
			oci_free_secret(form);
		return -1;
	}
	a.form = form;
	rc = oci_fetch(identity ? "POST" : "GET", url, "token realm", &a, o, &r);
	if (form != NULL)
		oci_free_secret(form);
	if (rc == -1 || r.redirected) {
		if (r.redirected)
			oci_redirect_error(err, who, "the token request", &r);
		else
			oci_fetch_error(err, who, &r);
		oci_resp_reset(&r);
		return -1;
	}
	if (r.status == 401 || r.status == 403) {
		error_set(err, "unauthorized", "", "unauthorized: registry %s "
		    "rejected the credentials", ref->domain);
		oci_resp_reset(&r);
		return -1;
	}
	*token = r.status == 200 ? oci_token_from_body(&r) : NULL;
	oci_resp_reset(&r);
	if (*token == NULL) {
		error_set(err, "registry_unreachable", "", "registry_unreachable: "
		    "token server of %s gave no token", ref->domain);
		return -1;
	}
	return 0;
}

/*
 * GET /v2/ on base ("https://host"). A loopback registry whose TLS handshake
 * fails is asked again over plain HTTP, as Docker does, and base becomes
 * "http://host" for the requests that follow.
 */
static int
oci_ping(char *base, const struct image_ref *ref,
    const struct oci_auth *a, const struct oci_resolve_opts *o,
    struct oci_resp *r)
{
	char url[600];

	snprintf(url, sizeof(url), "%s/v2/", base);
	if (oci_fetch("GET", url, "registry", a, o, r) == 0)
		return 0;
	if (r->rc != CURLE_SSL_CONNECT_ERROR ||
	    strncmp(base, "https://", 8) != 0 ||
	    !regauth_host_loopback(ref->domain))
		return -1;
	log_info("registry %s: TLS handshake failed (%s); a loopback registry, "
	    "so trying plain HTTP", ref->domain, r->curlerr);
	memmove(base + 4, base + 5, strlen(base + 5) + 1);   /* drop the s */
	snprintf(url, sizeof(url), "%s/v2/", base);
	return oci_fetch("GET", url, "registry", a, o, r);
}

/*
 * GET /v2/ tells how to authenticate: 200 anonymous, 401 Basic or Bearer.
 * Fills a (and *token for bearer); base may switch to http (oci_ping).
 */
static int
oci_login(char *base, const struct image_ref *ref,
    const struct oci_resolve_opts *o, struct oci_auth *a, char **token,
    struct error *err)
{
	struct oci_resp r = { 0 };
	struct regauth_challenge ch;
	char who[300];
	int rc = 0;

	snprintf(who, sizeof(who), "registry %s", ref->domain);
	if (oci_ping(base, ref, a, o, &r) == -1) {
		oci_fetch_error(err, who, &r);
		oci_resp_reset(&r);
		return -1;
	}
	if (r.status == 401 && regauth_challenge_parse(r.www_auth,
	    strlen(r.www_auth), &ch) == 0) {
		if (ch.scheme == REGAUTH_SCHEME_BEARER) {
			rc = oci_token(&ch, ref, o, token, err);
			a->bearer = *token;
		} else if (ch.scheme == REGAUTH_SCHEME_BASIC &&
		    regauth_identity(o->username)) {
			error_set(err, "unauthorized", "", "unauthorized: registry "
			    "%s asks for Basic authentication; an identity token "
			    "is exchanged only at a Bearer token realm", ref->domain);
			rc = -1;
		} else if (ch.scheme == REGAUTH_SCHEME_BASIC) {
			a->username = o->username;
			a->password = o->password;
		}
	} else if (r.redirected) {
		oci_redirect_error(err, who, "GET /v2/", &r);
		rc = -1;
	} else if (r.status != 200 && r.status != 401) {
		error_set(err, "registry_unreachable", "", "registry_unreachable: "
		    "registry %s answered HTTP %ld on /v2/", ref->domain, r.status);
		rc = -1;
	}
	oci_resp_reset(&r);
	return rc;
}

/* The registry's error code from a {"errors":[{"code":...}]} body, or "". */
static void
oci_error_code(const struct oci_resp *r, char *out, size_t len)
{
	json_t *root, *code;

	out[0] = '\0';
	if (r->body == NULL || (root = json_loadb((const char *)r->body, r->len,
	    0, NULL)) == NULL)
		return;
	code = json_object_get(json_array_get(json_object_get(root, "errors"),
	    0), "code");
	if (json_is_string(code))
		snprintf(out, len, "%s", json_string_value(code));
	json_decref(root);
}

/* Maps a manifest answer that is not 200 to a failure reason. */
static void
oci_manifest_error(const struct oci_resp *r, const struct image_ref *ref,
    const struct oci_resolve_opts *o, struct error *err)
{
	char image[IMAGE_REF_MAX], code[64], who[300];

	if (image_ref_format(ref, image, sizeof(image)) == -1)
		snprintf(image, sizeof(image), "%s/%s", ref->domain, ref->path);
	oci_error_code(r, code, sizeof(code));
	if (r->redirected) {
		snprintf(who, sizeof(who), "registry %s", ref->domain);
		oci_redirect_error(err, who, "the manifest request", r);
	} else if (r->status == 401 || r->status == 403)
		error_set(err, "unauthorized", "", "unauthorized: registry %s %s",
		    ref->domain, o->username != NULL && o->username[0] != '\0' ?
		    "rejected the credentials" : "requires credentials");
	else if (r->status == 404)
		error_set(err, "manifest_unknown", "", "manifest_unknown: %s not "
		    "found%s%s", image, code[0] ? " " : "", code);
	else
		error_set(err, "registry_unreachable", "", "registry_unreachable: "
		    "registry %s answered HTTP %ld for %s", ref->domain, r->status,
		    image);
}

/* HEAD the manifest; GET and hash it when the digest header is missing. */
static int
oci_manifest_digest(const char *url, const struct image_ref *ref,
    const struct oci_resolve_opts *o, const struct oci_auth *a,
    char digest[AGENT_DIGEST_MAX], struct error *err)
{
	struct oci_resp r = { 0 };
	char hex[65], who[300];
	const char *method = "HEAD";

	for (int pass = 0; pass < 2; pass++, method = "GET") {
		if (oci_fetch(method, url, "registry", a, o, &r) ==
		    -1) {
			snprintf(who, sizeof(who), "registry %s", ref->domain);
			oci_fetch_error(err, who, &r);
			break;
		}
		if (r.status != 200) {
			/* HEAD has no body: GET once for the error code. */
			if (pass == 0 && r.status == 404)
				continue;
			oci_manifest_error(&r, ref, o, err);
			break;
		}
		if (r.digest[0] == '\0' && pass == 1 && r.len > 0) {
			crypto_sha256_hex(r.body, r.len, hex);
			snprintf(r.digest, sizeof(r.digest), "sha256:%s", hex);
		}
		if (r.digest[0] != '\0') {
			memcpy(digest, r.digest, AGENT_DIGEST_MAX);
			oci_resp_reset(&r);
			return 0;
		}
	}
	if (r.status == 200)
		error_set(err, "registry_unreachable", "", "registry_unreachable: "
		    "registry %s gave no manifest digest", ref->domain);
	oci_resp_reset(&r);
	return -1;
}

int
oci_resolve(const struct image_ref *ref, const struct oci_resolve_opts *opts,
    char digest[AGENT_DIGEST_MAX], struct error *err)
{
	struct oci_resolve_opts o = *opts;
	struct oci_auth a = { NULL, NULL, NULL, NULL };
	char base[300], url[1024], *token = NULL;
	const char *reference = ref->digest[0] ? ref->digest : ref->tag;
	int rc;

	if (o.timeout_s <= 0)
		o.timeout_s = 20;
	snprintf(base, sizeof(base), "%s://%s",
	    regauth_host_listed(o.insecure, ref->domain) ? "http" : "https",
	    oci_api_host(ref->domain));
	if (oci_login(base, ref, &o, &a, &token, err) == -1)
		return -1;
	snprintf(url, sizeof(url), "%s/v2/%s/manifests/%s", base, ref->path,
	    reference[0] ? reference : "latest");
	rc = oci_manifest_digest(url, ref, &o, &a, digest, err);
	if (token != NULL) {
		sodium_memzero(token, strlen(token));
		free(token);
	}
	if (rc == 0 && ref->digest[0] && strcmp(digest, ref->digest) != 0) {
		error_set(err, "manifest_unknown", "", "manifest_unknown: registry "
		    "%s serves %s for pinned %s", ref->domain, digest, ref->digest);
		return -1;
	}
	return rc;
}
