#!/bin/sh
# Embeds SQL migration files into a C source file, so a service binary carries
# its own schema: embed-sql.sh SYMBOL file.sql... > out.c
set -eu
sym=$1; shift
echo '#include "store.h"'
echo "const struct migration ${sym}[] = {"
for f in "$@"; do
	printf '\t{ "%s",\n' "$(basename "$f")"
	# Escape backslashes and quotes; one C string literal per SQL line.
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t  "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo "};"
echo "const unsigned long ${sym}_count = sizeof(${sym}) / sizeof(${sym}[0]);"
