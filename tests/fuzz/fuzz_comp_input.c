// uses: services/component-svc/comp_input.c
// uses: services/component-svc/endpoints.c
/*
 * fuzz_comp_input.c: libFuzzer target for component-svc's create request.
 * The bytes are tried as a whole JSON body through comp_input_parse (what
 * comp_http.c calls), as the schedule and the time zone of a scheduled-task
 * body, and raw through the name, cron and time-zone validators. Nothing may
 * crash or leak, and whatever is accepted obeys its grammar.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component-svc/component.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RID "6f1c2d3e-0000-4000-8000-000000000001"

/* Every accepted name, schedule and zone is made of these only. */
static void
fuzz_check_strings(const char *s)
{
	size_t n = strlen(s);

	if (comp_input_slug_valid(s) && (n == 0 || n > 63 || s[0] == '-' ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != n))
		abort();
	if (comp_input_cron_valid(s) && (n > 128 ||
	    strspn(s, "0123456789*/,- \tabcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n))
		abort();
	if (comp_input_timezone_valid(s) && (n == 0 || n > 64 || s[0] == '/' ||
	    strstr(s, "..") != NULL))
		abort();
}

static void
fuzz_parse(json_t *body)
{
	struct comp_input *in = calloc(1, sizeof(*in));
	struct error err;
	int status = 0;

	if (in == NULL)
		return;
	if (comp_input_parse(body, in, &status, &err) == 0) {
		if (!comp_input_slug_valid(in->name) || in->image[0] == '\0' ||
		    in->endpoints.n > ENDPOINTS_MAX)
			abort();
		if (strcmp(in->type, "scheduled-task") == 0 &&
		    (!comp_input_cron_valid(in->schedule) ||
		    !comp_input_timezone_valid(in->timezone)))
			abort();
	} else if (err.code[0] == '\0' || (status != 400 && status != 413 &&
	    status != 422)) {
		abort();
	}
	free(in);
	json_decref(body);
}

/* s as one field of an otherwise valid scheduled-task body. */
static void
fuzz_task_field(json_t *s, const char *key)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", "job",
	    "type", "scheduled-task", "registry_id", FUZZ_RID, "image",
	    "ghcr.io/acme/job:1", "schedule", "*/5 * * * *", "timezone", "UTC");

	if (body != NULL && json_object_set(body, key, s) == 0)
		fuzz_parse(body);
	else
		json_decref(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *str = malloc(size + 1);
	json_t *body, *s;

	if (str == NULL)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	fuzz_check_strings(str);
	free(str);
	/* As http_request_json loads a body. */
	body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(body))
		fuzz_parse(body);
	else
		json_decref(body);
	if (memchr(data, '\0', size) == NULL &&
	    (s = json_stringn((const char *)data, size)) != NULL) {
		fuzz_task_field(s, "schedule");
		fuzz_task_field(s, "timezone");
		fuzz_task_field(s, "name");
		json_decref(s);
	}
	return 0;
}
