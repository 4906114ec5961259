/*
 * agent_journal.c: what the agent has promised, on its own disk.
 *
 * The commands consumer hands an ApplyDeployment to a worker and lets Kafka
 * commit the offset at once, so a long pull never holds the partition past
 * max.poll.interval.ms. What keeps the command from being lost is this
 * journal: the command's bytes are written (fsync'd) under pending/ before
 * the handler returns, and removed only once the apply's last state was
 * reported. A restarted agent replays what is still pending.
 *
 * records/ holds, per component and environment, which deployment serves
 * (the cutover's commit point), that deployment's command (to recreate a
 * container that vanished) and the deployments that finished there, so a
 * redelivered command re-reports instead of redeploying.
 *
 * executions/ and schedules/ hold the files of agent_exec.c (one record
 * per execution) and agent_sched.c (the last minute handled per slot),
 * written through agent_journal_put. agent.lock is flock'd by the agent
 * that uses the directory: only one agent at a time schedules its slots.
 *
 * Every file is written to a temporary name, fsync'd and renamed, then the
 * directory is fsync'd: a crash leaves the old or the new file, never half
 * of one. Mode 0600: commands carry the component's variables.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <jansson.h>
#include <pthread.h>

#include "agent.h"

#define JOURNAL_FILE_MAX (ENVELOPE_MAX + 4096)

static const char *const journal_subdirs[] = { "pending", "records",
    "executions", "schedules", NULL };

struct agent_journal {
	char *dir;
	int lock_fd;
	pthread_mutex_t lock;   /* the sequence counter */
	unsigned long long seq;
};

static int
journal_path(const struct agent_journal *j, const char *sub, const char *name,
    const char *ext, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s/%s%s", j->dir, sub, name, ext);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int
journal_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Writes buf to path atomically (temp file, fsync, rename, fsync dir). */
static int
journal_write(const char *dir, const char *path, const void *buf, size_t len)
{
	char tmp[1100];
	const char *p = buf;
	ssize_t w;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1)
		return -1;
	for (size_t off = 0; off < len; off += (size_t)w)
		if ((w = write(fd, p + off, len - off)) <= 0) {
			close(fd);
			unlink(tmp);
			return -1;
		}
	if (fsync(fd) == -1 || close(fd) == -1 || rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return journal_fsync_dir(dir);
}

/* Reads a whole file (capped); malloc'd, NULL on failure. */
static void *
journal_read(const char *path, size_t *len)
{
	struct stat sb;
	char *buf;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return NULL;
	if (fstat(fd, &sb) == -1 || sb.st_size > JOURNAL_FILE_MAX ||
	    (buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	r = read(fd, buf, (size_t)sb.st_size);
	close(fd);
	if (r != sb.st_size) {
		free(buf);
		return NULL;
	}
	buf[r] = '\0';
	*len = (size_t)r;
	return buf;
}

static int
journal_mkdir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

struct agent_journal *
agent_journal_open(const char *dir, struct error *err)
{
	struct agent_journal *j = calloc(1, sizeof(*j));
	char sub[1024];

	if (j == NULL || (j->dir = strdup(dir)) == NULL) {
		free(j);
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	pthread_mutex_init(&j->lock, NULL);
	j->lock_fd = -1;
	snprintf(sub, sizeof(sub), "%s", dir);
	if (journal_mkdir(dir) == -1)
		goto fail;
	for (size_t i = 0; journal_subdirs[i] != NULL; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, journal_subdirs[i]);
		if (journal_mkdir(sub) == -1)
			goto fail;
	}
	j->seq = (unsigned long long)time(NULL) * 1000;
	return j;
fail:
	error_set(err, "journal", "", "cannot create %s: %s", sub,
	    strerror(errno));
	agent_journal_free(j);
	return NULL;
}

int
agent_journal_lock(struct agent_journal *j, int wait_s, struct error *err)
{
	char path[1100], pid[32];
	int fd;

	snprintf(path, sizeof(path), "%s/agent.lock", j->dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		error_set(err, "journal", "", "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	/* An agent that is still stopping gives it up within seconds. */
	for (int ms = 0; flock(fd, LOCK_EX | LOCK_NB) == -1; ms += 100) {
		if (errno != EWOULDBLOCK || ms >= wait_s * 1000) {
			error_set(err, "journal", "", "%s is locked: another agent "
			    "uses this state directory (only one may, or two would "
			    "schedule the same tasks)", path);
			close(fd);
			return -1;
		}
		if (ms == 0)
			log_warnx("%s is locked by another agent: waiting up to %d s",
			    path, wait_s);
		usleep(100 * 1000);
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0 && write(fd, pid, strlen(pid)) < 0)
		log_warn("cannot write %s", path);
	j->lock_fd = fd;   /* held until the process exits */
	return 0;
}

void
agent_journal_free(struct agent_journal *j)
{
	if (j == NULL)
		return;
	pthread_mutex_destroy(&j->lock);
	if (j->lock_fd != -1)
		close(j->lock_fd);
	free(j->dir);
	free(j);
}

int
agent_journal_add(struct agent_journal *j, const void *buf, size_t len,
    const char *deployment_id, char *name, size_t namelen, struct error *err)
{
	char path[1100], sub[1024];
	unsigned long long seq;

	pthread_mutex_lock(&j->lock);
	seq = ++j->seq;
	pthread_mutex_unlock(&j->lock);
	/* The sequence first: replay in acceptance order is a name sort. */
	snprintf(name, namelen, "%020llu-%s", seq, deployment_id);
	snprintf(sub, sizeof(sub), "%s/pending", j->dir);
	if (journal_path(j, "pending", name, ".cmd", path, sizeof(path)) == -1 ||
	    journal_write(sub, path, buf, len) == -1) {
		error_set(err, "journal", "", "cannot journal the command: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
agent_journal_done(struct agent_journal *j, const char *name)
{
	char path[1100];

	if (journal_path(j, "pending", name, ".cmd", path, sizeof(path)) == -1)
		return -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int
journal_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir ending in ext (without it), sorted; free each and *out. */
static size_t
journal_list(const char *dir, const char *ext, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, cap = 0, el = strlen(ext);
	char **v = NULL, **nv;

	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l <= el ||
		    strcmp(de->d_name + l - el, ext) != 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, ncap * sizeof(*v))) == NULL)
				break;
			v = nv;
			cap = ncap;
		}
		if ((v[n] = strndup(de->d_name, l - el)) != NULL)
			n++;
	}
	if (d != NULL)
		closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), journal_name_cmp);
	*out = v;
	return n;
}

int
agent_journal_replay(struct agent_journal *j, agent_journal_fn fn, void *arg)
{
	char sub[1024], path[1100], **names;
	size_t n, len;
	void *buf;

	snprintf(sub, sizeof(sub), "%s/pending", j->dir);
	n = journal_list(sub, ".cmd", &names);
	for (size_t i = 0; i < n; i++) {
		if (journal_path(j, "pending", names[i], ".cmd", path,
		    sizeof(path)) == 0 && (buf = journal_read(path, &len)) != NULL) {
			fn(arg, names[i], buf, len);
			free(buf);
		} else {
			log_warnx("journal: cannot read %s: skipped", names[i]);
		}
		free(names[i]);
	}
	free(names);
	return 0;
}

/* "<component>@<environment>": '@' is outside the names' alphabet. */
static int
journal_record_name(const char *component_id, const char *environment,
    char *buf, size_t len)
{
	int n;

	if (!agent_spec_name_valid(component_id) ||
	    !agent_spec_name_valid(environment))
		return -1;
	n = snprintf(buf, len, "%s@%s", component_id, environment);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static char *
journal_record_json(const struct agent_record *rec)
{
	json_t *fin = json_array(), *o;
	char *s;

	for (int i = 0; i < rec->nfinished; i++)
		json_array_append_new(fin, json_pack("{s:s, s:i, s:s}", "id",
		    rec->finished[i].id, "state", rec->finished[i].state, "reason",
		    rec->finished[i].reason));
	o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "component_id",
	    rec->component_id, "environment", rec->environment, "serving",
	    rec->serving, "digest", rec->digest, "finished", fin);
	if (o != NULL && rec->task_set) {
		Slipway__V1__TaskSettings p;
		workload_task_to_proto(&rec->task, &p);
		json_object_set_new(o, "task", json_pack("{s:s, s:s, s:s, s:I, s:I}",
		    "schedule", p.schedule, "timezone", p.timezone,
		    "concurrency_policy", p.concurrency_policy,
		    "starting_deadline_s", (json_int_t)p.starting_deadline_s,
		    "active_deadline_s", (json_int_t)p.active_deadline_s));
	}
	s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

int
agent_journal_record_save(struct agent_journal *j,
    const struct agent_record *rec, const void *cmd, size_t cmdlen,
    struct error *err)
{
	char name[300], path[1100], sub[1024], *js;
	int rc = -1;

	snprintf(sub, sizeof(sub), "%s/records", j->dir);
	if (journal_record_name(rec->component_id, rec->environment, name,
	    sizeof(name)) == -1 || (js = journal_record_json(rec)) == NULL) {
		error_set(err, "journal", "", "cannot encode the record");
		return -1;
	}
	/* The command first: a record never names a serving without it. */
	if ((cmd == NULL || (journal_path(j, "records", name, ".cmd", path,
	    sizeof(path)) == 0 && journal_write(sub, path, cmd, cmdlen) == 0)) &&
	    journal_path(j, "records", name, ".json", path, sizeof(path)) == 0 &&
	    journal_write(sub, path, js, strlen(js)) == 0)
		rc = 0;
	else
		error_set(err, "journal", "", "cannot write record %s: %s", name,
		    strerror(errno));
	free(js);
	return rc;
}

void *
agent_journal_record_command(struct agent_journal *j,
    const char *component_id, const char *environment, size_t *len)
{
	char name[300], path[1100];

	if (journal_record_name(component_id, environment, name, sizeof(name))
	    == -1 || journal_path(j, "records", name, ".cmd", path,
	    sizeof(path)) == -1)
		return NULL;
	return journal_read(path, len);
}

int
agent_journal_record_remove(struct agent_journal *j, const char *component_id,
    const char *environment)
{
	char name[300], path[1100];

	if (journal_record_name(component_id, environment, name, sizeof(name))
	    == -1)
		return -1;
	if (journal_path(j, "records", name, ".cmd", path, sizeof(path)) == 0)
		unlink(path);
	if (journal_path(j, "records", name, ".json", path, sizeof(path)) == 0)
		unlink(path);
	return 0;
}

/* A SetSchedule's settings, checked again as the bus's are. */
static void
journal_record_task(json_t *t, struct agent_record *rec)
{
	Slipway__V1__TaskSettings p = SLIPWAY__V1__TASK_SETTINGS__INIT;
	json_int_t sd = 0, ad = 0;
	struct error err;

	if (t == NULL || json_unpack(t, "{s:s, s:s, s:s, s:I, s:I}", "schedule",
	    &p.schedule, "timezone", &p.timezone, "concurrency_policy",
	    &p.concurrency_policy, "starting_deadline_s", &sd,
	    "active_deadline_s", &ad) == -1 || sd < 0 || ad < 0 ||
	    sd > WORKLOAD_STARTING_DEADLINE_MAX || ad > WORKLOAD_ACTIVE_DEADLINE_MAX)
		return;
	p.starting_deadline_s = (uint32_t)sd;
	p.active_deadline_s = (uint32_t)ad;
	if (workload_task_from_proto(&p, &rec->task, &err) == 0)
		rec->task_set = 1;
}

/* Parses a record file; -1 when it is not one (left alone, logged). */
static int
journal_record_parse(const char *text, size_t len, struct agent_record *rec)
{
	json_t *o = json_loadb(text, len, 0, NULL), *fin, *f;
	const char *comp = NULL, *env = NULL, *serving = NULL, *digest = "";
	size_t i;

	memset(rec, 0, sizeof(*rec));
	if (json_unpack(o, "{s:s, s:s, s:s, s?s, s:o}", "component_id", &comp,
	    "environment", &env, "serving", &serving, "digest", &digest,
	    "finished", &fin) == -1 || !agent_spec_name_valid(comp) ||
	    !agent_spec_name_valid(env) || (serving[0] &&
	    !agent_spec_name_valid(serving)) || (digest[0] &&
	    !image_ref_digest_valid(digest))) {
		json_decref(o);
		return -1;
	}
	snprintf(rec->component_id, sizeof(rec->component_id), "%s", comp);
	snprintf(rec->environment, sizeof(rec->environment), "%s", env);
	snprintf(rec->serving, sizeof(rec->serving), "%s", serving);
	snprintf(rec->digest, sizeof(rec->digest), "%s", digest);
	json_array_foreach(fin, i, f) {
		const char *id = NULL, *reason = "";
		int state = 0;
		if (rec->nfinished >= AGENT_FINISHED_MAX || json_unpack(f,
		    "{s:s, s:i, s?s}", "id", &id, "state", &state, "reason",
		    &reason) == -1 || !agent_spec_name_valid(id))
			continue;
		snprintf(rec->finished[rec->nfinished].id, AGENT_ID_MAX, "%s", id);
		snprintf(rec->finished[rec->nfinished].reason, AGENT_REASON_MAX,
		    "%s", reason);
		rec->finished[rec->nfinished++].state = state;
	}
	journal_record_task(json_object_get(o, "task"), rec);
	json_decref(o);
	return 0;
}

int
agent_journal_records(struct agent_journal *j, agent_record_fn fn, void *arg)
{
	char sub[1024], path[1100], **names;
	struct agent_record rec;
	size_t n, len, cmdlen = 0;
	void *text, *cmd;

	snprintf(sub, sizeof(sub), "%s/records", j->dir);
	n = journal_list(sub, ".json", &names);
	for (size_t i = 0; i < n; i++) {
		text = journal_path(j, "records", names[i], ".json", path,
		    sizeof(path)) == 0 ? journal_read(path, &len) : NULL;
		cmd = journal_path(j, "records", names[i], ".cmd", path,
		    sizeof(path)) == 0 ? journal_read(path, &cmdlen) : NULL;
		if (text != NULL && journal_record_parse(text, len, &rec) == 0)
			fn(arg, &rec, cmd, cmd != NULL ? cmdlen : 0);
		else
			log_warnx("journal: record %s unreadable: skipped", names[i]);
		free(text);
		free(cmd);
		free(names[i]);
	}
	free(names);
	return 0;
}

/* 1 when sub is one of the directories made at open. */
static int
journal_subdir_valid(const char *sub)
{
	for (size_t i = 0; journal_subdirs[i] != NULL; i++)
		if (strcmp(sub, journal_subdirs[i]) == 0)
			return 1;
	return 0;
}

/* <dir>/<sub>/<name>.json for a safe name; -1 otherwise. */
static int
journal_file(const struct agent_journal *j, const char *sub, const char *name,
    char *buf, size_t len)
{
	if (!journal_subdir_valid(sub) || strchr(name, '/') != NULL ||
	    name[0] == '.' || name[0] == '\0')
		return -1;
	return journal_path(j, sub, name, ".json", buf, len);
}

int
agent_journal_put(struct agent_journal *j, const char *sub, const char *name,
    const void *buf, size_t len)
{
	char path[1100], dir[1024];

	snprintf(dir, sizeof(dir), "%s/%s", j->dir, sub);
	if (journal_file(j, sub, name, path, sizeof(path)) == -1)
		return -1;
	return journal_write(dir, path, buf, len);
}

void *
agent_journal_get(struct agent_journal *j, const char *sub, const char *name,
    size_t *len)
{
	char path[1100];

	if (journal_file(j, sub, name, path, sizeof(path)) == -1)
		return NULL;
	return journal_read(path, len);
}

int
agent_journal_exists(struct agent_journal *j, const char *sub,
    const char *name)
{
	char path[1100];

	return journal_file(j, sub, name, path, sizeof(path)) == 0 &&
	    access(path, F_OK) == 0;
}

int
agent_journal_unlink(struct agent_journal *j, const char *sub,
    const char *name)
{
	char path[1100];

	if (journal_file(j, sub, name, path, sizeof(path)) == -1)
		return -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

size_t
agent_journal_names(struct agent_journal *j, const char *sub, char ***out)
{
	char dir[1024];

	*out = NULL;
	if (!journal_subdir_valid(sub))
		return 0;
	snprintf(dir, sizeof(dir), "%s/%s", j->dir, sub);
	return journal_list(dir, ".json", out);
}

void
agent_record_finish(struct agent_record *rec, const char *dep, int state,
    const char *reason)
{
	int n = rec->nfinished < AGENT_FINISHED_MAX ? rec->nfinished :
	    AGENT_FINISHED_MAX - 1;

	memmove(&rec->finished[1], &rec->finished[0], (size_t)n *
	    sizeof(rec->finished[0]));
	snprintf(rec->finished[0].id, AGENT_ID_MAX, "%s", dep);
	rec->finished[0].state = state;
	snprintf(rec->finished[0].reason, AGENT_REASON_MAX, "%s",
	    reason ? reason : "");
	rec->nfinished = n + 1;
}
