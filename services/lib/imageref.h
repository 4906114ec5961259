/*
 * imageref.h: container image references, by the distribution grammar
 * (github.com/distribution/reference), written by hand.
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [domain "/"] path-component ("/" path-component)*
 *
 * Normalisation follows Docker: no domain → docker.io; a single docker.io path
 * component gets "library/"; no tag and no digest → tag "latest". The names
 * registry.hub.docker.com, index.docker.io and registry-1.docker.io mean
 * docker.io.
 */
#ifndef SLIPWAY_IMAGEREF_H
#define SLIPWAY_IMAGEREF_H

#include <stddef.h>
#include "error.h"

#define IMAGE_REF_MAX 512

struct image_ref {
	char domain[256];   /* "docker.io", "ghcr.io", "127.0.0.1:5000" */
	char path[256];     /* "library/nginx", "acme/api" */
	char tag[129];      /* "" when only a digest was given */
	char digest[136];   /* "sha256:<64 hex>" or "" */
};

/* Fills out, or returns -1 with err code "invalid_image" and a reason. */
int image_ref_parse(const char *s, struct image_ref *out, struct error *err);
/* domain/path[:tag][@digest] into buf; -1 when it does not fit. */
int image_ref_format(const struct image_ref *r, char *buf, size_t len);
/* Canonical registry host: docker.io aliases folded, lower-cased. */
void image_ref_host_canon(const char *host, char *out, size_t len);
/* 1 when two registry hosts name the same registry. */
int image_ref_host_equal(const char *a, const char *b);
/* 1 when two references name one repository (same host, same path). */
int image_ref_same_repository(const struct image_ref *a,
    const struct image_ref *b);
/* 1 when s is a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}). */
int image_ref_tag_valid(const char *s);
/* 1 when s is a valid digest (algorithm:hex, sha256 = 64 hex). */
int image_ref_digest_valid(const char *s);

#endif
