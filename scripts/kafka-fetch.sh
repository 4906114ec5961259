#!/bin/sh
# Copies Apache Kafka's runtime classpath (broker, KRaft controller, a logging
# back-end) from Maven Central into $SLIPWAY_KAFKA_LIB once. A stamp file
# holding the pom's checksum makes later runs a no-op until the pom changes.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
pom=$here/kafka/pom.xml
lib=${SLIPWAY_KAFKA_LIB:-$HOME/.cache/slipway/kafka-3.9.1/lib}
stamp=$lib/.slipway-stamp
want=$(cksum <"$pom" | awk '{ print $1 }')

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi

command -v mvn >/dev/null 2>&1 || {
	echo "kafka-fetch: mvn not found (run scripts/setup.sh)" >&2
	exit 1
}

parent=$(dirname "$lib")
mkdir -p "$parent"
tmp=$(mktemp -d "$parent/.fetch.XXXXXX")
log=$tmp.log
trap 'rm -rf "$tmp"' EXIT

echo "kafka-fetch: fetching Kafka runtime jars into $lib"
if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
	-DoutputDirectory="$tmp" >"$log" 2>&1; then
	echo "kafka-fetch: mvn failed; last lines of $log:" >&2
	tail -n 30 "$log" >&2
	exit 1
fi
if ! ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1; then
	echo "kafka-fetch: mvn succeeded but no kafka_2.13 jar arrived (see $log)" >&2
	exit 1
fi
echo "$want" >"$tmp/.slipway-stamp"
rm -rf "$lib"
mv "$tmp" "$lib"
rm -f "$log"
echo "kafka-fetch: $(ls "$lib" | wc -l) jars in $lib"
