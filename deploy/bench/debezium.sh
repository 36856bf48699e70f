#!/usr/bin/env bash
# debezium.sh — a Kafka Connect standalone worker with Debezium's MySQL
# connector, for the CDC → Kafka comparison in docs/benchmarks.md
# (TestCDCToKafkaVsDebezium in cmd/ferry/debezium_bench_test.go drives it).
#
# Usage: debezium.sh jars             resolve the jars (once) and print
#                                     CONNECT_LIB=<dir> and PLUGIN_DIR=<dir>
#        debezium.sh worker <dir> <port> <brokers>
#                                     exec a standalone Connect worker with no
#                                     connector: its state (worker.properties,
#                                     offsets) in <dir>, its REST API on
#                                     127.0.0.1:<port>; connectors are created
#                                     through the REST API.
#
# Jars come from Maven Central (mvn and java must be installed, as for the
# test bed) into ${FERRY_TESTBED_CACHE:-$HOME/.cache/ferry-testbed}:
# org.apache.kafka:connect-runtime and connect-json at
# FERRY_BENCH_KAFKA_VERSION (default 4.3.1, the test bed's broker) and
# io.debezium:debezium-connector-mysql at FERRY_BENCH_DEBEZIUM_VERSION
# (default 3.6.1.Final). The JVM's heap is FERRY_BENCH_CONNECT_HEAP
# (default 1g).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${FERRY_TESTBED_CACHE:-${HOME:-/root}/.cache/ferry-testbed}"
KAFKA_VERSION="${FERRY_BENCH_KAFKA_VERSION:-4.3.1}"
DEBEZIUM_VERSION="${FERRY_BENCH_DEBEZIUM_VERSION:-2.6.2.Final}"
HEAP="${FERRY_BENCH_CONNECT_HEAP:-1g}"

log() { printf 'debezium.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# resolve <dest> <pom-dir> <mvn args...>: copy the runtime dependencies of
# maven/<pom-dir>/pom.xml into <dest> once (a .complete marker).
resolve() {
	local dest=$1 pomdir=$2
	shift 2
	[[ -f $dest/.complete ]] && return 0
	command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
	local tmp="$dest.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	log "downloading $pomdir jars from Maven Central into $dest"
	if ! mvn -B -q -f "$SCRIPT_DIR/maven/$pomdir/pom.xml" "$@" \
		dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
		tail -n 20 "$tmp.log" >&2
		rm -rf "$tmp"
		die "$pomdir: Maven download failed (log: $tmp.log)"
	fi
	touch "$tmp/.complete"
	rm -rf "$dest"
	mv "$tmp" "$dest"
}

jars() {
	CONNECT_LIB="$CACHE/kafka-connect-$KAFKA_VERSION/lib"
	PLUGIN_DIR="$CACHE/debezium-mysql-$DEBEZIUM_VERSION/plugins"
	resolve "$CONNECT_LIB" connect "-Dkafka.version=$KAFKA_VERSION"
	# Kafka's own APIs and SLF4J come from the worker's class loader, as
	# with Debezium's released plugin archive.
	resolve "$PLUGIN_DIR/debezium-connector-mysql" debezium -Ddebezium.connector=mysql \
		"-Ddebezium.version=$DEBEZIUM_VERSION" -DexcludeGroupIds=org.apache.kafka,org.slf4j
}

case "${1:-}" in
jars)
	jars
	echo "CONNECT_LIB=$CONNECT_LIB"
	echo "PLUGIN_DIR=$PLUGIN_DIR"
	;;
worker)
	[[ $# -eq 4 ]] || die "usage: debezium.sh worker <dir> <port> <brokers>"
	dir=$2 port=$3 brokers=$4
	[[ $port =~ ^[0-9]+$ ]] || die "port: not a number: $port"
	command -v java >/dev/null || die "java not found (apt-get install -y openjdk-17-jre-headless)"
	jars
	mkdir -p "$dir"
	sed -e "s|@BROKERS@|$brokers|" -e "s|@DIR@|$dir|" -e "s|@PLUGINS@|$PLUGIN_DIR|" \
		-e "s|@PORT@|$port|" "$SCRIPT_DIR/connect-standalone.properties" >"$dir/worker.properties"
	exec java -server "-Xms256m" "-Xmx$HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
		-Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true \
		-cp "$CONNECT_LIB/*" org.apache.kafka.connect.cli.ConnectStandalone "$dir/worker.properties"
	;;
*)
	die "usage: debezium.sh jars | worker <dir> <port> <brokers>"
	;;
esac
