/*
 * error.h: the run-time error tier (STYLE.md rule 6). Functions that can fail
 * at run time return -1 or NULL and fill a struct error the caller owns.
 */
#ifndef SLIPWAY_ERROR_H
#define SLIPWAY_ERROR_H

#include "log.h"

struct error {
	char code[48];   /* machine-readable, e.g. "invalid_image", "unique_violation" */
	char field[48];  /* the offending input field, or "" */
	char msg[256];   /* one human sentence, never a secret */
};

void error_set(struct error *err, const char *code, const char *field,
    const char *fmt, ...) LOG_PRINTF(4, 5);
void error_clear(struct error *err);

#endif
