/*
 * error.c: filling the run-time error struct.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

void
error_set(struct error *err, const char *code, const char *field,
    const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	snprintf(err->code, sizeof(err->code), "%s", code != NULL ? code : "error");
	snprintf(err->field, sizeof(err->field), "%s", field != NULL ? field : "");
	va_start(ap, fmt);
	if (vsnprintf(err->msg, sizeof(err->msg), fmt, ap) < 0)
		snprintf(err->msg, sizeof(err->msg), "%s", err->code);
	va_end(ap);
}

void
error_clear(struct error *err)
{
	if (err == NULL)
		return;
	memset(err, 0, sizeof(*err));
}
