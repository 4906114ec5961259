/*
 * kube_routes.c: how a release is reached on Kubernetes, by visibility,
 * built as JSON (pure, like kube_objects.c):
 *
 *   Public, Organization  HTTP endpoints (REST, GraphQL, WS) as Gateway API
 *                         HTTPRoutes on the public / internal Gateway
 *                         (SLIPWAY_KUBE_PUBLIC_GATEWAY, ..._INTERNAL_GATEWAY),
 *                         or networking.k8s.io/v1 Ingresses of the public /
 *                         internal class (SLIPWAY_KUBE_ROUTES=ingress); GRPC
 *                         endpoints as GRPCRoutes (gateway mode);
 *   Project               a NetworkPolicy: only pods of the same org and
 *                         project reach those ports (the others stay open);
 *   TCP, UDP              a Service of SLIPWAY_KUBE_L4_SERVICE_TYPE (GRPC
 *                         too in ingress mode, which has no gRPC route).
 *
 * HTTP paths are the engine gateway's: /<org>/<project>/<component><context>
 * on the public or internal hostname, rewritten to <context> before the
 * service sees it (Gateway API; an Ingress has no standard rewrite, so
 * there the service sees the full path).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "kube.h"

#define KUBE_GATEWAY_GROUP "gateway.networking.k8s.io"

static const char *const kube_route_suffix[] = { "public", "internal" };

/* "ns/name" of a Gateway; -1 when either part is not a DNS label. */
static int
kube_routes_gateway_ref(const char *s, struct kube_gateway_ref *g)
{
	const char *slash = strchr(s, '/');
	size_t nl;

	if (slash == NULL || (nl = (size_t)(slash - s)) == 0 ||
	    nl >= sizeof(g->ns) || strlen(slash + 1) >= sizeof(g->name))
		return -1;
	memcpy(g->ns, s, nl);
	g->ns[nl] = '\0';
	snprintf(g->name, sizeof(g->name), "%s", slash + 1);
	return kube_dns_label_valid(g->ns) && kube_dns_label_valid(g->name) ?
	    0 : -1;
}

/* A hostname the routes can carry: DNS labels joined by dots. */
static int
kube_routes_host_valid(const char *h)
{
	char label[KUBE_NAME_MAX];
	size_t n;

	if (h[0] == '\0' || strlen(h) > 253)
		return 0;
	while (*h) {
		n = strcspn(h, ".");
		if (n == 0 || n >= sizeof(label))
			return 0;
		memcpy(label, h, n);
		label[n] = '\0';
		if (!kube_dns_label_valid(label))
			return 0;
		h += n + (h[n] == '.');
	}
	return 1;
}

int
kube_routes_config(struct kube_routes *rt, const struct kube_routes_input *in,
    struct error *err)
{
	static const char *const l4[] = { "ClusterIP", "NodePort",
	    "LoadBalancer", NULL };
	const char *gw[2] = { in->public_gateway, in->internal_gateway };
	const char *host[2] = { in->public_host, in->internal_host };
	int ok = 0;

	memset(rt, 0, sizeof(*rt));
	if (strcmp(in->mode, "gateway") == 0)
		rt->mode = KUBE_ROUTES_GATEWAY;
	else if (strcmp(in->mode, "ingress") == 0)
		rt->mode = KUBE_ROUTES_INGRESS;
	else {
		error_set(err, "config", "SLIPWAY_KUBE_ROUTES", "SLIPWAY_KUBE_ROUTES "
		    "%s: not gateway or ingress", in->mode);
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		if (kube_routes_gateway_ref(gw[i], &rt->gw[i]) == -1) {
			error_set(err, "config", "", "Gateway %s: not <namespace>/<name>",
			    gw[i]);
			return -1;
		}
		if (!kube_routes_host_valid(host[i])) {
			error_set(err, "config", "", "route hostname %s: not a DNS name",
			    host[i]);
			return -1;
		}
		snprintf(rt->host[i], sizeof(rt->host[i]), "%s", host[i]);
	}
	snprintf(rt->ingress_class[0], sizeof(rt->ingress_class[0]), "%s",
	    in->public_class);
	snprintf(rt->ingress_class[1], sizeof(rt->ingress_class[1]), "%s",
	    in->internal_class);
	for (int i = 0; l4[i] != NULL; i++)
		ok |= strcmp(in->l4_type, l4[i]) == 0;
	if (!ok) {
		error_set(err, "config", "", "SLIPWAY_KUBE_L4_SERVICE_TYPE %s: not "
		    "ClusterIP, NodePort or LoadBalancer", in->l4_type);
		return -1;
	}
	snprintf(rt->l4_type, sizeof(rt->l4_type), "%s", in->l4_type);
	return 0;
}

/* --- which endpoint goes where --------------------------------------------- */

static int
kube_routes_grpc(const struct agent_endpoint *e)
{
	return strcmp(e->type, "GRPC") == 0;
}

/* 0 public, 1 internal, -1 neither (Project: in-cluster only). */
static int
kube_routes_class(const struct agent_endpoint *e)
{
	if (strcmp(e->visibility, "Public") == 0)
		return 0;
	if (strcmp(e->visibility, "Organization") == 0)
		return 1;
	return -1;
}

/* 1 when e is reached through the L4 Service. */
static int
kube_routes_l4(const struct kube_routes *rt, const struct agent_endpoint *e)
{
	if (strcmp(e->type, "TCP") == 0 || strcmp(e->type, "UDP") == 0)
		return 1;
	return kube_routes_grpc(e) && rt->mode == KUBE_ROUTES_INGRESS &&
	    kube_routes_class(e) >= 0;
}

/* 1 when e gets an HTTP route (HTTPRoute or Ingress) of class which. */
static int
kube_routes_http_of(const struct agent_endpoint *e, int which)
{
	return agent_spec_http(e) && kube_routes_class(e) == which;
}

/* "/<org>/<project>/<component><context>", no trailing '/' but the root. */
static void
kube_routes_path(const struct agent_spec *s, const struct agent_endpoint *e,
    char *buf, size_t len, char *ctx, size_t ctxlen)
{
	size_t n;

	snprintf(ctx, ctxlen, "%s", e->context[0] ? e->context : "/");
	n = strlen(ctx);
	while (n > 1 && ctx[n - 1] == '/')
		ctx[--n] = '\0';
	snprintf(buf, len, "/%s/%s/%s%s", s->org, s->project, s->component,
	    strcmp(ctx, "/") == 0 ? "" : ctx);
}

void
kube_routes_name(const struct kube_release *r, const char *what,
    char out[KUBE_NAME_MAX])
{
	kube_object_name(r->spec->component, r->spec->component_id, what, out);
}

/* --- the objects ------------------------------------------------------------ */

static json_t *
kube_routes_labels(const struct kube_release *r)
{
	const struct agent_spec *s = r->spec;

	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "slipway.managed", "true",
	    "slipway.component", s->component_id, "slipway.environment",
	    s->environment, "slipway.dataplane", r->dataplane,
	    "slipway.deployment", s->deployment_id);
}

static json_t *
kube_routes_object(const struct kube_release *r, const char *api_version,
    const char *kind, const char *name)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:o}}", "apiVersion",
	    api_version, "kind", kind, "metadata", "name", name, "namespace",
	    r->ns, "labels", kube_routes_labels(r));
}

static json_t *
kube_routes_parent(const struct kube_routes *rt, int which)
{
	return json_pack("[{s:s, s:s, s:s, s:s}]", "group", KUBE_GATEWAY_GROUP,
	    "kind", "Gateway", "namespace", rt->gw[which].ns, "name",
	    rt->gw[which].name);
}

static json_t *
kube_routes_http_rule(const struct kube_release *r,
    const struct agent_endpoint *e)
{
	char path[600], ctx[300];

	kube_routes_path(r->spec, e, path, sizeof(path), ctx, sizeof(ctx));
	return json_pack("{s:[{s:{s:s, s:s}}], s:[{s:s, s:{s:{s:s, s:s}}}], "
	    "s:[{s:s, s:i}]}", "matches", "path", "type", "PathPrefix", "value",
	    path, "filters", "type", "URLRewrite", "urlRewrite", "path", "type",
	    "ReplacePrefixMatch", "replacePrefixMatch", ctx, "backendRefs",
	    "name", r->name, "port", e->port);
}

json_t *
kube_routes_httproute(const struct kube_release *r, int which)
{
	const struct kube_routes *rt = r->routes;
	char name[KUBE_NAME_MAX];
	json_t *rules = json_array(), *o;

	if (rt == NULL || rt->mode != KUBE_ROUTES_GATEWAY || rules == NULL) {
		json_decref(rules);
		return NULL;
	}
	for (int i = 0; i < r->spec->nep; i++)
		if (kube_routes_http_of(&r->spec->ep[i], which))
			json_array_append_new(rules, kube_routes_http_rule(r,
			    &r->spec->ep[i]));
	if (json_array_size(rules) == 0) {
		json_decref(rules);
		return NULL;
	}
	kube_routes_name(r, kube_route_suffix[which], name);
	o = kube_routes_object(r, KUBE_GATEWAY_GROUP "/v1", "HTTPRoute", name);
	json_object_set_new(o, "spec", json_pack("{s:o, s:[s], s:o}",
	    "parentRefs", kube_routes_parent(rt, which), "hostnames",
	    rt->host[which], "rules", rules));
	return o;
}

json_t *
kube_routes_grpcroute(const struct kube_release *r, int which)
{
	const struct kube_routes *rt = r->routes;
	char name[KUBE_NAME_MAX], what[16];
	json_t *rules = json_array(), *o;

	if (rt == NULL || rt->mode != KUBE_ROUTES_GATEWAY || rules == NULL) {
		json_decref(rules);
		return NULL;
	}
	for (int i = 0; i < r->spec->nep; i++)
		if (kube_routes_grpc(&r->spec->ep[i]) &&
		    kube_routes_class(&r->spec->ep[i]) == which)
			json_array_append_new(rules, json_pack("{s:[{s:s, s:i}]}",
			    "backendRefs", "name", r->name, "port", r->spec->ep[i].port));
	if (json_array_size(rules) == 0) {
		json_decref(rules);
		return NULL;
	}
	snprintf(what, sizeof(what), "grpc-%s", kube_route_suffix[which]);
	kube_routes_name(r, what, name);
	o = kube_routes_object(r, KUBE_GATEWAY_GROUP "/v1", "GRPCRoute", name);
	json_object_set_new(o, "spec", json_pack("{s:o, s:[s], s:o}",
	    "parentRefs", kube_routes_parent(rt, which), "hostnames",
	    rt->host[which], "rules", rules));
	return o;
}

json_t *
kube_routes_ingress(const struct kube_release *r, int which)
{
	const struct kube_routes *rt = r->routes;
	char name[KUBE_NAME_MAX], path[600], ctx[300];
	json_t *paths = json_array(), *o, *spec;

	if (rt == NULL || rt->mode != KUBE_ROUTES_INGRESS || paths == NULL) {
		json_decref(paths);
		return NULL;
	}
	for (int i = 0; i < r->spec->nep; i++) {
		const struct agent_endpoint *e = &r->spec->ep[i];
		if (!kube_routes_http_of(e, which))
			continue;
		kube_routes_path(r->spec, e, path, sizeof(path), ctx, sizeof(ctx));
		json_array_append_new(paths, json_pack("{s:s, s:s, s:{s:{s:s, "
		    "s:{s:i}}}}", "path", path, "pathType", "Prefix", "backend",
		    "service", "name", r->name, "port", "number", e->port));
	}
	if (json_array_size(paths) == 0) {
		json_decref(paths);
		return NULL;
	}
	kube_routes_name(r, kube_route_suffix[which], name);
	o = kube_routes_object(r, "networking.k8s.io/v1", "Ingress", name);
	spec = json_pack("{s:[{s:s, s:{s:o}}]}", "rules", "host",
	    rt->host[which], "http", "paths", paths);
	if (rt->ingress_class[which][0] != '\0')
		json_object_set_new(spec, "ingressClassName",
		    json_string(rt->ingress_class[which]));
	json_object_set_new(o, "spec", spec);
	return o;
}

static json_t *
kube_routes_port(const struct agent_endpoint *e)
{
	return json_pack("{s:s, s:i}", "protocol", strcmp(e->type, "UDP") == 0 ?
	    "UDP" : "TCP", "port", e->port);
}

json_t *
kube_routes_network_policy(const struct kube_release *r)
{
	const struct agent_spec *s = r->spec;
	char name[KUBE_NAME_MAX];
	json_t *project = json_array(), *open = json_array(), *rules, *o;

	for (int i = 0; i < s->nep; i++)
		json_array_append_new(kube_routes_class(&s->ep[i]) < 0 ? project :
		    open, kube_routes_port(&s->ep[i]));
	if (json_array_size(project) == 0) {
		json_decref(project);
		json_decref(open);
		return NULL;
	}
	/* The project's pods only (labels, as its pods carry them). */
	rules = json_pack("[{s:[{s:{s:{s:s, s:s}}}], s:o}]", "from", "podSelector",
	    "matchLabels", "slipway.org", s->org, "slipway.project", s->project,
	    "ports", project);
	/* Every other port stays open to all (the Gateways' pods among them). */
	if (json_array_size(open) > 0)
		json_array_append_new(rules, json_pack("{s:o}", "ports", open));
	else
		json_decref(open);
	kube_routes_name(r, "project", name);
	o = kube_routes_object(r, "networking.k8s.io/v1", "NetworkPolicy", name);
	json_object_set_new(o, "spec", json_pack("{s:{s:{s:s, s:s}}, s:[s], s:o}",
	    "podSelector", "matchLabels", "slipway.component", s->component_id,
	    "slipway.environment", s->environment, "policyTypes", "Ingress",
	    "ingress", rules));
	return o;
}

json_t *
kube_routes_l4_service(const struct kube_release *r)
{
	const struct agent_spec *s = r->spec;
	char name[KUBE_NAME_MAX], pname[16];
	json_t *ports = json_array(), *o;

	if (r->routes == NULL || ports == NULL) {
		json_decref(ports);
		return NULL;
	}
	for (int i = 0; i < s->nep; i++) {
		const struct agent_endpoint *e = &s->ep[i];
		if (!kube_routes_l4(r->routes, e))
			continue;
		snprintf(pname, sizeof(pname), "%c%d", strcmp(e->type, "UDP") == 0 ?
		    'u' : 'p', e->port);
		json_array_append_new(ports, json_pack("{s:s, s:i, s:s, s:i}",
		    "name", pname, "port", e->port, "protocol", strcmp(e->type,
		    "UDP") == 0 ? "UDP" : "TCP", "targetPort", e->port));
	}
	if (json_array_size(ports) == 0) {
		json_decref(ports);
		return NULL;
	}
	kube_routes_name(r, "l4", name);
	o = kube_routes_object(r, "v1", "Service", name);
	json_object_set_new(o, "spec", json_pack("{s:s, s:{s:s, s:s}, s:o}",
	    "type", r->routes->l4_type, "selector", "slipway.component",
	    s->component_id, "slipway.environment", s->environment, "ports",
	    ports));
	return o;
}

int
kube_routes_address(const struct kube_release *r,
    const struct agent_endpoint *e, char *buf, size_t len)
{
	const struct kube_routes *rt = r->routes;
	char path[600], ctx[300], name[KUBE_NAME_MAX];
	int which = kube_routes_class(e), w;

	if (rt == NULL || (which < 0 && !kube_routes_l4(rt, e)) ||
	    (!agent_spec_http(e) && !kube_routes_grpc(e) && !kube_routes_l4(rt,
	    e)))
		return kube_objects_address(r, e, buf, len);
	if (kube_routes_l4(rt, e)) {
		kube_routes_name(r, "l4", name);
		w = snprintf(buf, len, "%s://%s.%s.svc.cluster.local:%d",
		    strcmp(e->type, "UDP") == 0 ? "udp" : "tcp", name, r->ns,
		    e->port);
	} else if (kube_routes_grpc(e))
		w = snprintf(buf, len, "grpc://%s", rt->host[which]);
	else {
		kube_routes_path(r->spec, e, path, sizeof(path), ctx, sizeof(ctx));
		w = snprintf(buf, len, "http://%s%s%s", rt->host[which], path,
		    strcmp(ctx, "/") == 0 ? "/" : "");
	}
	return w < 0 || (size_t)w >= len ? -1 : 0;
}
