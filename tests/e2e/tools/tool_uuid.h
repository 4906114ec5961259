/*
 * tool_uuid.h: a random UUID v4 for the e2e tools' forged and duplicated
 * events (an event id must be one, or the consumers reject the event).
 */
#ifndef TOOL_UUID_H
#define TOOL_UUID_H

#include <stdio.h>
#include <stdlib.h>

static void
uuid4(char out[37])
{
	unsigned char b[16];
	FILE *f = fopen("/dev/urandom", "rb");

	if (f == NULL || fread(b, 1, sizeof(b), f) != sizeof(b)) {
		fprintf(stderr, "no /dev/urandom\n");
		exit(1);
	}
	fclose(f);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

#endif
