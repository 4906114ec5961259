/*
 * agent_render.c: `dataplane-agent render --out DIR [component-id...]`,
 * for GitOps users: the objects the Kubernetes runtime would apply for
 * what this agent serves, written as YAML instead of applied.
 *
 * What serves is what the agent's records say (its state directory,
 * SLIPWAY_AGENT_STATE_DIR): the serving deployment's command and pinned
 * digest per component and environment, opened with the data plane's key
 * (SLIPWAY_DATAPLANE_KEY_FILE) as the agent would. The route settings are
 * the agent's (SLIPWAY_KUBE_*). Registry credentials never reach a file:
 * --pull-secrets only references the pull Secret, which the user creates.
 * The release's ConfigMap carries its configuration variables and its
 * Secret the opened secrets: keep the directory as private as the
 * cluster's Secrets (it is made 0700, the files 0600).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "kube.h"

struct render {
	struct agent_ctx *ag;
	const struct agent_render_opts *o;
	int rendered;
	int failed;
	struct error err;
};

/* 1 when the options list component_id (or list none). */
static int
render_wanted(const struct agent_render_opts *o, const char *component_id)
{
	if (o->ncomponents == 0)
		return 1;
	for (size_t i = 0; i < o->ncomponents; i++)
		if (strcmp(o->components[i], component_id) == 0)
			return 1;
	return 0;
}

/* <out>/<namespace>.<kind>.<name>.yaml, mode 0600. */
static int
render_write(struct render *rd, json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	char path[1024];
	FILE *f;
	int fd, n, rc;

	n = snprintf(path, sizeof(path), "%s/%s.%s.%s.yaml", rd->o->out,
	    ns ? ns : "cluster", kind ? kind : "Object", name ? name : "x");
	if (n < 0 || (size_t)n >= sizeof(path) || !kube_dns_label_valid(name ?
	    name : "") || (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		error_set(&rd->err, "render", "", "cannot write %s: %s", path,
		    strerror(errno));
		return -1;
	}
	rc = kube_yaml_write(f, obj);
	if (fclose(f) == EOF || rc == -1) {
		error_set(&rd->err, "render", "", "cannot write %s", path);
		return -1;
	}
	return 0;
}

static void
render_record(void *arg, const struct agent_record *rec, const void *cmd,
    size_t len)
{
	struct render *rd = arg;
	struct agent_spec s;
	struct error err;
	Envelope *env;
	json_t *objs, *o;
	size_t i;

	if (rd->failed || rec->serving[0] == '\0' || cmd == NULL ||
	    !render_wanted(rd->o, rec->component_id))
		return;
	if ((env = envelope_decode(cmd, len, NULL, &err)) == NULL ||
	    agent_spec_from_apply(env, &s, &err) == -1) {
		log_warnx("%s in %s: serving command unusable: %s",
		    rec->component_id, rec->environment, err.msg);
		envelope_free(env);
		return;
	}
	envelope_free(env);
	if (rec->task_set)
		s.task = rec->task;
	if ((objs = json_array()) == NULL || agent_kube_objects(rd->ag, &s,
	    rec->digest, rd->o->pull_secrets, objs) == -1) {
		error_set(&rd->err, "render", "", "%s: cannot build its objects",
		    rec->component_id);
		rd->failed = 1;
	}
	json_array_foreach(objs, i, o)
		if (!rd->failed && render_write(rd, o) == -1)
			rd->failed = 1;
	json_decref(objs);
	agent_spec_clear(&s);
	if (!rd->failed) {
		rd->rendered++;
		log_info("rendered %s in %s (deployment %s)", rec->component_id,
		    rec->environment, rec->serving);
	}
}

int
agent_render(struct agent_ctx *ag, const struct agent_render_opts *o,
    struct error *err)
{
	struct render rd = { .ag = ag, .o = o };

	if (mkdir(o->out, 0700) == -1 && errno != EEXIST) {
		error_set(err, "render", "", "cannot create %s: %s", o->out,
		    strerror(errno));
		return -1;
	}
	if (agent_journal_records(ag->journal, render_record, &rd) == -1) {
		error_set(err, "render", "", "cannot read the agent's records");
		return -1;
	}
	if (rd.failed) {
		*err = rd.err;
		return -1;
	}
	return rd.rendered;
}
