#!/usr/bin/env bash
# testbed.sh — start the real services Ferry's integration tests talk to
# (RocketMQ, Kafka, MariaDB and Ferry's own cloud emulators) as plain local
# processes bound to 127.0.0.1, without Docker.
#
# Usage: testbed.sh up | down [--wipe|--started] | status | env
#                   | start|stop|restart <service> | kc-clients
# Services: rocketmq (= namesrv + broker), namesrv, broker, kafka, mariadb,
#           sls, mns, dts.
#
# State lives in ${FERRY_TESTBED_DIR:-<repo>/.testbed}: data, logs, pid files,
# the env file (.testbed/env) and the list of services the last `up` started
# (.testbed/started). Downloads are cached in
# ${FERRY_TESTBED_CACHE:-$HOME/.cache/ferry-testbed}. See docs/testing.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
TB="${FERRY_TESTBED_DIR:-$REPO_ROOT/.testbed}"
CACHE="${FERRY_TESTBED_CACHE:-${HOME:-/root}/.cache/ferry-testbed}"

ROCKETMQ_VERSION="${FERRY_TESTBED_ROCKETMQ_VERSION:-5.3.3}"
KAFKA_VERSION="${FERRY_TESTBED_KAFKA_VERSION:-4.3.1}"

NAMESRV_PORT="${FERRY_TESTBED_NAMESRV_PORT:-19876}"
# The broker also binds BROKER_PORT-2 (VIP channel) and BROKER_PORT+1 (HA).
BROKER_PORT="${FERRY_TESTBED_BROKER_PORT:-19911}"
KAFKA_PORT="${FERRY_TESTBED_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${FERRY_TESTBED_KAFKA_CONTROLLER_PORT:-19093}"
MYSQL_PORT="${FERRY_TESTBED_MYSQL_PORT:-13306}"
SLS_PORT="${FERRY_TESTBED_SLS_PORT:-18001}"
MNS_PORT="${FERRY_TESTBED_MNS_PORT:-18002}"
DTS_PORT="${FERRY_TESTBED_DTS_PORT:-18003}"

MYSQL_USER=ferry
MYSQL_PASSWORD=ferry
MYSQL_ROOT_PASSWORD=ferry-root
EMU_KEY_ID=ferry-test
EMU_KEY_SECRET=ferry-test-secret
DTS_USER=ferry
DTS_PASSWORD=ferry-secret
DTS_GROUP=ferry-group
DTS_TOPIC=ferry-dts

# Topics created during `up` to prove each broker really serves requests.
READY_TOPIC=ferry-testbed-ready

EMULATORS=(sls mns dts)
ALL_SERVICES=(namesrv broker kafka mariadb sls mns dts)

export DEBIAN_FRONTEND=noninteractive

log() { printf 'testbed: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

now_ms() { date +%s%3N; }
elapsed() { # elapsed <start_ms> -> "12.3s"
	local d=$(($(now_ms) - $1))
	printf '%d.%ds' $((d / 1000)) $((d % 1000 / 100))
}

pidfile() { echo "$TB/run/$1.pid"; }

# alive <service>: the pid in its pid file is running AND is ours — its command
# line mentions this test bed's directory — so a recycled pid is never
# mistaken for (or killed as) one of our services.
alive() {
	local pf pid
	pf="$(pidfile "$1")"
	[[ -s $pf ]] || return 1
	pid="$(<"$pf")"
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$TB/" || return 1
}

# spawn <service> <cmd...>: run cmd detached in its own session, logging to
# $TB/logs/<service>.log. The process writes its own pid before exec'ing, so
# the pid file names the real server process, not a wrapper.
spawn() {
	local svc=$1
	shift
	mkdir -p "$TB/run" "$TB/logs"
	local pf
	pf="$(pidfile "$svc")"
	rm -f "$pf"
	# 8>&- 9>&- : don't hand the script's locks to long-lived servers.
	# shellcheck disable=SC2016 # $$ and $0 belong to the inner shell
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pf" "$@" \
		>>"$TB/logs/$svc.log" 2>&1 </dev/null 8>&- 9>&- &
	local i
	for i in $(seq 50); do
		[[ -s $pf ]] && return 0
		sleep 0.1
	done
	die "$svc: process did not start"
}

# stop_pid <service> [timeout_s]: TERM, wait, then KILL — only our own pid.
stop_service_pid() {
	local svc=$1 timeout=${2:-30} pf pid i
	pf="$(pidfile "$svc")"
	if ! alive "$svc"; then
		rm -f "$pf"
		return 0
	fi
	pid="$(<"$pf")"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < timeout * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$svc: still running after ${timeout}s, sending KILL"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.2
	fi
	rm -f "$pf"
	log "$svc: stopped (pid $pid)"
}

# log_mark <service> prints how many lines its log has, so a readiness check
# can look only at lines written after a (re)start: logs are appended to.
log_mark() {
	local n
	n=$( (wc -l <"$TB/logs/$1.log") 2>/dev/null) || n=0
	echo "${n:-0}"
}

# logged_since <service> <mark> <fixed string>
logged_since() {
	tail -n +$(($2 + 1)) "$TB/logs/$1.log" 2>/dev/null | grep -qF -- "$3"
}

port_open() { # port_open <port>
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

port_free_or_die() { # port_free_or_die <service> <port>...
	local svc=$1 p
	shift
	for p in "$@"; do
		if port_open "$p"; then
			die "$svc: port 127.0.0.1:$p is already in use by a process this test bed did not start (override with FERRY_TESTBED_*_PORT)"
		fi
	done
}

# wait_for <service> <timeout_s> <probe...>: poll the probe until it succeeds;
# give up early if the service's process died.
wait_for() {
	local svc=$1 timeout=$2 deadline
	shift 2
	deadline=$(($(date +%s) + timeout))
	while ! "$@" >/dev/null 2>&1; do
		if ! alive "$svc"; then
			log "$svc: process exited; last log lines:"
			tail -n 30 "$TB/logs/$svc.log" >&2 || true
			return 1
		fi
		if (($(date +%s) >= deadline)); then
			log "$svc: not ready after ${timeout}s; last log lines:"
			tail -n 30 "$TB/logs/$svc.log" >&2 || true
			return 1
		fi
		sleep 0.3
	done
}

# started_since <n>: has this run started anything since STARTED had n entries?
started_since() { ((${#STARTED[@]} > $1)); }

# report_up <service> <start_ms> <n before> <address>: the closing line of
# each service group, with its time.
report_up() {
	if started_since "$3"; then
		log "$1: started and ready in $(elapsed "$2") ($4)"
	else
		log "$1: already running, ready in $(elapsed "$2")"
	fi
}

# ---------------------------------------------------------------- downloads

# maven_jars <name> <version> <pom-dir> <property>: copy the artifacts the
# tiny pom lists, with their runtime dependencies, into the cache once.
maven_jars() {
	local name=$1 version=$2 pomdir=$3 prop=$4
	local dest="$CACHE/$name-$version/lib"
	if [[ -f $dest/.complete ]]; then
		echo "$dest"
		return 0
	fi
	command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
	command -v java >/dev/null || die "java not found (apt-get install -y openjdk-17-jre-headless)"
	local t0 tmp
	t0=$(now_ms)
	tmp="$CACHE/$name-$version/lib.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	log "$name $version: downloading jars from Maven Central into $dest"
	if ! mvn -B -q -f "$SCRIPT_DIR/maven/$pomdir/pom.xml" "-D$prop=$version" \
		dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory="$tmp" >"$CACHE/$name-$version/mvn.log" 2>&1; then
		tail -n 20 "$CACHE/$name-$version/mvn.log" >&2
		rm -rf "$tmp"
		die "$name $version: Maven download failed (full log: $CACHE/$name-$version/mvn.log)"
	fi
	touch "$tmp/.complete"
	rm -rf "$dest"
	mv "$tmp" "$dest"
	log "$name $version: jars ready in $(elapsed "$t0")"
	echo "$dest"
}

JAVA_OPENS=(
	--add-opens=java.base/java.lang=ALL-UNNAMED
	--add-opens=java.base/java.util=ALL-UNNAMED
	--add-opens=java.base/java.nio=ALL-UNNAMED
	--add-opens=java.base/sun.nio.ch=ALL-UNNAMED
	--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED
	--add-exports=java.base/sun.nio.ch=ALL-UNNAMED
)

# ---------------------------------------------------------------- RocketMQ

# rmq_cmd <user.home> <logback resource> <jvm opts...> -- <main> <args...>
# sets CMD to a RocketMQ JVM command line. One shared classpath serves the
# name server, broker and mqadmin; user.home gives each its own logs and
# state, and the logback resource picks the matching bundled config.
rmq_cmd() {
	local home=$1 logback=$2
	shift 2
	local opts=()
	while [[ $1 != -- ]]; do
		opts+=("$1")
		shift
	done
	shift
	CMD=(env ROCKETMQ_HOME="$TB/rocketmq" java -server "${opts[@]}" -XX:+UseG1GC
		"${JAVA_OPENS[@]}"
		-Duser.home="$home" -Drocketmq.home.dir="$TB/rocketmq"
		-Drmq.logback.configurationFile="$logback"
		-cp "$RMQ_LIB/*" "$@")
}

mqadmin() {
	rmq_cmd "$TB/rocketmq/mqadmin" rmq.tools.logback.xml -Xms64m -Xmx256m -XX:TieredStopAtLevel=1 -- \
		org.apache.rocketmq.tools.command.MQAdminStartup "$@" -n "127.0.0.1:$NAMESRV_PORT"
	"${CMD[@]}"
}

rmq_prepare() {
	RMQ_LIB="$(maven_jars rocketmq "$ROCKETMQ_VERSION" rocketmq rocketmq.version)"
	mkdir -p "$TB/rocketmq"/{namesrv,broker,mqadmin,store}
	cat >"$TB/rocketmq/namesrv.conf" <<EOF
listenPort=$NAMESRV_PORT
# The remoting server binds 0.0.0.0 unless told otherwise.
bindAddress=127.0.0.1
EOF
	cat >"$TB/rocketmq/broker.conf" <<EOF
brokerClusterName=ferry-testbed
brokerName=ferry-broker-a
brokerId=0
namesrvAddr=127.0.0.1:$NAMESRV_PORT
brokerIP1=127.0.0.1
listenPort=$BROKER_PORT
bindAddress=127.0.0.1
storePathRootDir=$TB/rocketmq/store
storePathCommitLog=$TB/rocketmq/store/commitlog
autoCreateTopicEnable=true
autoCreateSubscriptionGroup=true
# SQL92 filters on message properties (the rocketmq source's filter.sql).
enablePropertyFilter=true
flushDiskType=ASYNC_FLUSH
deleteWhen=04
fileReservedTime=48
# Small files keep a fresh store at a few hundred MB instead of several GB.
mappedFileSizeCommitLog=134217728
mappedFileSizeConsumeQueue=600000
maxHashSlotNum=50000
maxIndexNum=200000
# Timer wheel log files are 100 MB each by default.
mappedFileSizeTimerLog=16777216
# A shared developer disk may be fuller than a dedicated broker disk.
diskMaxUsedSpaceRatio=95
EOF
}

namesrv_start() {
	alive namesrv && return 0
	port_free_or_die namesrv "$NAMESRV_PORT"
	local mark
	mark=$(log_mark namesrv)
	rmq_cmd "$TB/rocketmq/namesrv" rmq.namesrv.logback.xml -Xms128m -Xmx256m -- \
		org.apache.rocketmq.namesrv.NamesrvStartup -c "$TB/rocketmq/namesrv.conf"
	spawn namesrv "${CMD[@]}"
	STARTED+=(namesrv)
	wait_for namesrv 60 logged_since namesrv "$mark" "The Name Server boot success" ||
		die "namesrv: failed to start"
	wait_for namesrv 30 port_open "$NAMESRV_PORT" || die "namesrv: port $NAMESRV_PORT not open"
}

broker_start() {
	alive broker && return 0
	port_free_or_die broker "$BROKER_PORT" $((BROKER_PORT - 2)) $((BROKER_PORT + 1))
	local mark
	mark=$(log_mark broker)
	rmq_cmd "$TB/rocketmq/broker" rmq.broker.logback.xml \
		-Xms512m -Xmx512m -XX:MaxDirectMemorySize=512m -- \
		org.apache.rocketmq.broker.BrokerStartup -c "$TB/rocketmq/broker.conf"
	spawn broker "${CMD[@]}"
	STARTED+=(broker)
	# Only boot lines written after this start count (the log is appended).
	wait_for broker 120 logged_since broker "$mark" "boot success" || die "broker: failed to start"
	wait_for broker 30 port_open "$BROKER_PORT" || die "broker: port $BROKER_PORT not open"
}

# rocketmq_ready: a topic can be created and its route is served by the
# name server, i.e. the broker has registered and clients can produce.
rocketmq_ready() {
	local t0 i
	t0=$(now_ms)
	# After a restart the topic is already in the broker's store, so one
	# mqadmin run (a JVM start) proves the route; a fresh store needs two.
	if grep -qF "\"$READY_TOPIC\"" "$TB/rocketmq/store/config/topics.json" 2>/dev/null; then
		for i in $(seq 10); do
			if mqadmin topicRoute -t "$READY_TOPIC" >"$TB/logs/mqadmin.log" 2>&1 &&
				grep -q '"brokerName":"ferry-broker-a"' "$TB/logs/mqadmin.log"; then
				log "rocketmq: topic $READY_TOPIC routed in $(elapsed "$t0")"
				return 0
			fi
			sleep 1
		done
	fi
	for i in $(seq 20); do
		if mqadmin updateTopic -c ferry-testbed -t "$READY_TOPIC" -r 4 -w 4 >"$TB/logs/mqadmin.log" 2>&1 &&
			mqadmin topicRoute -t "$READY_TOPIC" >>"$TB/logs/mqadmin.log" 2>&1 &&
			grep -q '"brokerName":"ferry-broker-a"' "$TB/logs/mqadmin.log"; then
			log "rocketmq: topic $READY_TOPIC created and routed in $(elapsed "$t0")"
			return 0
		fi
		sleep 1
	done
	tail -n 20 "$TB/logs/mqadmin.log" >&2
	die "rocketmq: could not create topic $READY_TOPIC or see its route"
}

rocketmq_up() {
	local t0
	t0=$(now_ms)
	rmq_prepare
	local before=${#STARTED[@]}
	namesrv_start
	broker_start
	if started_since "$before"; then
		rocketmq_ready
	else
		# Proven usable when it was started; a warm `up` only checks ports
		# (mqadmin costs two JVM starts, ~10 s).
		if ! port_open "$NAMESRV_PORT" || ! port_open "$BROKER_PORT"; then
			die "rocketmq: running but ports not open"
		fi
	fi
	report_up rocketmq "$t0" "$before" "namesrv 127.0.0.1:$NAMESRV_PORT, broker 127.0.0.1:$BROKER_PORT"
}

rocketmq_stop() {
	# Broker first, so it can unregister from the name server.
	stop_service_pid broker 60
	stop_service_pid namesrv 30
}

# ---------------------------------------------------------------- Kafka

# kafka_cmd <jvm opts...> -- <main> <args...> sets CMD to a Kafka JVM
# command line; slf4j-simple sends Kafka's logging to stderr.
kafka_cmd() {
	local opts=()
	while [[ $1 != -- ]]; do
		opts+=("$1")
		shift
	done
	shift
	# Defaults first: for a repeated -D the JVM keeps the last one.
	CMD=(java -server -XX:+UseG1GC -Djava.awt.headless=true
		-Dorg.slf4j.simpleLogger.defaultLogLevel=info
		-Dorg.slf4j.simpleLogger.showDateTime=true
		-Dferry.testbed="$TB/"
		"${opts[@]}"
		-cp "$KAFKA_LIB/*" "$@")
}

kafka_prepare() {
	KAFKA_LIB="$(maven_jars kafka "$KAFKA_VERSION" kafka kafka.version)"
	mkdir -p "$TB/kafka/data"
	cat >"$TB/kafka/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$TB/kafka/data
num.partitions=1
num.network.threads=2
num.io.threads=2
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=48
log.segment.bytes=67108864
EOF
}

kafka_tool() {
	kafka_cmd -Xms64m -Xmx256m -XX:TieredStopAtLevel=1 -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -- "$@"
	"${CMD[@]}"
}

kafka_start() {
	alive kafka && return 0
	port_free_or_die kafka "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
	if [[ ! -f $TB/kafka/data/meta.properties ]]; then
		local id
		id="$(kafka_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
		[[ -n $id ]] || die "kafka: StorageTool random-uuid printed nothing"
		kafka_tool kafka.tools.StorageTool format -t "$id" -c "$TB/kafka/server.properties" \
			--ignore-formatted >>"$TB/logs/kafka.log" 2>&1 || die "kafka: storage format failed (see $TB/logs/kafka.log)"
	fi
	kafka_cmd -Xms512m -Xmx512m -- kafka.Kafka "$TB/kafka/server.properties"
	spawn kafka "${CMD[@]}"
	STARTED+=(kafka)
	wait_for kafka 90 port_open "$KAFKA_PORT" || die "kafka: failed to start"
}

kafka_ready() {
	local t0 i
	t0=$(now_ms)
	for i in $(seq 20); do
		if kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
			--create --if-not-exists --topic "$READY_TOPIC" --partitions 1 --replication-factor 1 \
			>"$TB/logs/kafka-admin.log" 2>&1 &&
			kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
				--list >>"$TB/logs/kafka-admin.log" 2>&1 &&
			grep -qx "$READY_TOPIC" "$TB/logs/kafka-admin.log"; then
			log "kafka: topic $READY_TOPIC created and listed in $(elapsed "$t0")"
			return 0
		fi
		sleep 1
	done
	tail -n 20 "$TB/logs/kafka-admin.log" >&2
	die "kafka: could not create and list topic $READY_TOPIC"
}

kafka_up() {
	local t0 before=${#STARTED[@]}
	t0=$(now_ms)
	kafka_prepare
	kafka_start
	if started_since "$before"; then
		kafka_ready
	else
		port_open "$KAFKA_PORT" || die "kafka: running but port $KAFKA_PORT not open"
	fi
	report_up kafka "$t0" "$before" "127.0.0.1:$KAFKA_PORT"
}

# ---------------------------------------------------------------- Debian packages

# apt_install <name> <package>...: install Debian packages (as root), logging
# to $CACHE/apt-<name>.log. The groups of `up` run concurrently, so installs
# take turns on $CACHE/apt.lock (and wait for another apt holding dpkg's
# lock). Without systemd the package scripts would start services such as
# the stock MariaDB on port 3306; policy-rc.d answering 101 tells invoke-rc.d
# not to.
apt_install() {
	local name=$1
	shift
	[[ $(id -u) == 0 ]] || die "$name: not installed and not root; run: sudo apt-get install -y $*"
	local t0
	t0=$(now_ms)
	log "$name: installing $* from Debian"
	local rc=0
	(
		exec 7>>"$CACHE/apt.lock"
		flock -w 900 7 || { echo "apt.lock held for 900 s"; exit 1; }
		local made_policy=
		if [[ ! -e /usr/sbin/policy-rc.d ]]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
			chmod +x /usr/sbin/policy-rc.d
			made_policy=1
		fi
		local apt=(apt-get -q -o DPkg::Lock::Timeout=300)
		# No package lists (a fresh image) means update first; stale lists
		# show as a failed download, so one update and retry covers that too.
		rc=0
		{
			if ! apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
				"${apt[@]}" update
			fi
			"${apt[@]}" install -y --no-install-recommends "$@" ||
				{ "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "$@"; }
		} || rc=$?
		[[ -n $made_policy ]] && rm -f /usr/sbin/policy-rc.d
		exit "$rc"
	) >"$CACHE/apt-$name.log" 2>&1 || rc=$?
	if ((rc != 0)); then
		tail -n 20 "$CACHE/apt-$name.log" >&2
		die "$name: apt-get install failed"
	fi
	log "$name: installed in $(elapsed "$t0")"
}

# ---------------------------------------------------------------- Chromium

# The dashboard's browser test (worker/ui) drives Debian's chromium over the
# DevTools protocol. It is a tool, not a service: nothing runs until a test
# starts it.
browser_up() {
	if command -v chromium >/dev/null; then
		log "chromium: $(chromium --version 2>/dev/null || echo installed)"
		return 0
	fi
	apt_install chromium chromium
	log "chromium: $(chromium --version 2>/dev/null || echo installed)"
}

# ------------------------------------------------ Kafka Connect Python clients

# cmd/ferry's TestKafkaConnectPython* drive a worker with two Kafka Connect
# clients from PyPI: a REST client library and a CLI. Each gets a venv of
# its own (both install a package named kafka_connect) under the cache.
# Tools, not services: nothing runs until a test starts them.
KC_CLIENTS_DIR="${FERRY_TESTBED_KC_CLIENTS:-$CACHE/kc-clients}"
KC_CLIENTS=(kafka-connect-py==1.0.0 kafka-connect-cli==0.2.5)

kcclients_up() {
	local spec name dir t0 py=python3
	mkdir -p "$KC_CLIENTS_DIR"
	if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
		apt_install python3-venv python3 python3-venv python3-pip
		# Debian's python3 has venv now; a python3 earlier on PATH may not.
		"$py" -c 'import venv, ensurepip' >/dev/null 2>&1 || py=/usr/bin/python3
	fi
	for spec in "${KC_CLIENTS[@]}"; do
		name=${spec%%==*}
		dir="$KC_CLIENTS_DIR/$name"
		if [[ -x $dir/bin/python && -f $dir/.installed && "$(<"$dir/.installed")" == "$spec" ]]; then
			log "kc-clients: $spec ($dir)"
			continue
		fi
		t0=$(now_ms)
		rm -rf "$dir"
		if ! { "$py" -m venv "$dir" &&
			"$dir/bin/pip" install --disable-pip-version-check -q "$spec"; } >"$KC_CLIENTS_DIR/pip-$name.log" 2>&1; then
			tail -n 20 "$KC_CLIENTS_DIR/pip-$name.log" >&2
			die "kc-clients: pip install $spec failed"
		fi
		echo "$spec" >"$dir/.installed"
		log "kc-clients: $spec installed in $(elapsed "$t0")"
	done
}

# ---------------------------------------------------------------- MariaDB

mariadb_install() {
	if command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null && command -v mariadb >/dev/null; then
		return 0
	fi
	apt_install mariadb mariadb-server mariadb-client
}

mariadb_prepare() {
	mkdir -p "$CACHE"
	mariadb_install
	mkdir -p "$TB/mariadb/tmp"
	cat >"$TB/mariadb/my.cnf" <<EOF
[mariadbd]
datadir=$TB/mariadb/data
# Its own temporary tables' directory: nothing else on the machine
# shares or cleans it (twice a shared server crashed in 10.11.19's cleanup
# of a temporary table it failed to create in /tmp).
tmpdir=$TB/mariadb/tmp
socket=$TB/mariadb/mariadb.sock
pid-file=$TB/mariadb/mariadb.pid
port=$MYSQL_PORT
bind-address=127.0.0.1
skip-name-resolve
server_id=1
log_bin=mysql-bin
binlog_format=ROW
binlog_row_image=FULL
binlog_row_metadata=FULL
gtid_strict_mode=ON
max_binlog_size=64M
binlog_expire_logs_seconds=172800
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
# Test data only: trade durability for fewer fsyncs on a shared disk.
innodb_flush_log_at_trx_commit=2
sync_binlog=0
performance_schema=OFF
max_connections=200
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
log_error=$TB/logs/mariadb.err

[client]
socket=$TB/mariadb/mariadb.sock
port=$MYSQL_PORT
EOF
}

mysql_root() {
	mariadb --defaults-file="$TB/mariadb/my.cnf" -uroot -p"$MYSQL_ROOT_PASSWORD"
}

mariadb_start() {
	alive mariadb && return 0
	port_free_or_die mariadb "$MYSQL_PORT"
	local fresh=
	if [[ ! -d $TB/mariadb/data/mysql ]]; then
		fresh=1
		mkdir -p "$TB/mariadb/data" "$TB/logs"
		mariadb-install-db --defaults-file="$TB/mariadb/my.cnf" --user=root \
			--auth-root-authentication-method=normal --skip-test-db \
			>"$TB/logs/mariadb-install.log" 2>&1 ||
			{
				tail -n 20 "$TB/logs/mariadb-install.log" >&2
				die "mariadb: mariadb-install-db failed"
			}
	fi
	spawn mariadb mariadbd --defaults-file="$TB/mariadb/my.cnf" --user=root
	STARTED+=(mariadb)
	# ping exits 0 whenever the server answers, even "access denied".
	wait_for mariadb 60 mariadb-admin --defaults-file="$TB/mariadb/my.cnf" -uroot \
		--connect-timeout=2 ping ||
		{
			tail -n 20 "$TB/logs/mariadb.err" >&2 || true
			die "mariadb: failed to start"
		}
	if [[ -n $fresh ]]; then
		# A fresh datadir's root has no password; set it first.
		mariadb --defaults-file="$TB/mariadb/my.cnf" -uroot \
			-e "SET SESSION sql_log_bin = 0; ALTER USER 'root'@'localhost' IDENTIFIED BY '$MYSQL_ROOT_PASSWORD'" ||
			die "mariadb: could not set the root password"
	fi
}

# mariadb_users: the CDC user gets exactly what a binlog reader needs, plus
# full rights on databases named ferry* so sink tests can create their own.
mariadb_users() {
	# sql_log_bin=0: account set-up is no row change, and CDC tests reading
	# the binlog should not wade through it after every start.
	mysql_root <<EOF || die "mariadb: could not create user $MYSQL_USER"
SET SESSION sql_log_bin = 0;
CREATE USER IF NOT EXISTS '$MYSQL_USER'@'127.0.0.1' IDENTIFIED BY '$MYSQL_PASSWORD';
CREATE USER IF NOT EXISTS '$MYSQL_USER'@'localhost' IDENTIFIED BY '$MYSQL_PASSWORD';
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$MYSQL_ROOT_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '$MYSQL_USER'@'127.0.0.1', '$MYSQL_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`ferry%\`.* TO '$MYSQL_USER'@'127.0.0.1', '$MYSQL_USER'@'localhost';
CREATE DATABASE IF NOT EXISTS ferry_test;
FLUSH PRIVILEGES;
EOF
}

mariadb_ready() {
	local out
	out="$(mariadb -h127.0.0.1 -P"$MYSQL_PORT" -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" --connect-timeout=5 -N \
		-e "SELECT CONCAT(@@version, ' binlog_format=', @@binlog_format, ' gtid=', @@gtid_binlog_pos)")" ||
		die "mariadb: user $MYSQL_USER cannot query over TCP"
	log "mariadb: $out"
}

mariadb_up() {
	local t0 before=${#STARTED[@]}
	t0=$(now_ms)
	mariadb_prepare
	mariadb_start
	# Accounts only need (re)applying when this run started the server.
	if started_since "$before"; then
		mariadb_users
	fi
	mariadb_ready
	report_up mariadb "$t0" "$before" "127.0.0.1:$MYSQL_PORT"
}

# ---------------------------------------------------------------- emulators

EMU_BIN="$TB/bin/ferry-emulator"

emulator_build() {
	local t0
	t0=$(now_ms)
	command -v go >/dev/null || die "emulators: go not found"
	mkdir -p "$TB/bin"
	(cd "$REPO_ROOT" && go build -o "$EMU_BIN.new" ./cmd/ferry-emulator) >"$TB/logs/emulator-build.log" 2>&1 ||
		{
			cat "$TB/logs/emulator-build.log" >&2
			rm -f "$EMU_BIN.new"
			die "emulators: go build ./cmd/ferry-emulator failed"
		}
	# Replace, don't overwrite: a running emulator keeps its old inode.
	mv -f "$EMU_BIN.new" "$EMU_BIN"
	log "emulators: built $EMU_BIN in $(elapsed "$t0")"
}

# emulator_registered <name>: ferry-emulator with no arguments prints the
# names it was built with ("usage: ferry-emulator <[dts mns sls]> [flags]").
emulator_registered() {
	[[ -x $EMU_BIN ]] || return 1
	local usage
	usage="$("$EMU_BIN" 2>&1 || true)"
	usage="${usage#*<[}"
	usage="${usage%%]>*}"
	[[ " $usage " == *" $1 "* ]]
}

emulator_port() {
	case $1 in
	sls) echo "$SLS_PORT" ;;
	mns) echo "$MNS_PORT" ;;
	dts) echo "$DTS_PORT" ;;
	esac
}

emulator_args() {
	local port
	port="$(emulator_port "$1")"
	case $1 in
	sls | mns) echo "--listen 127.0.0.1:$port --access-key-id $EMU_KEY_ID --access-key-secret $EMU_KEY_SECRET" ;;
	dts) echo "--listen 127.0.0.1:$port --user $DTS_USER --password $DTS_PASSWORD --group $DTS_GROUP --topic $DTS_TOPIC" ;;
	esac
}

http_answers() { # any HTTP status line at all counts as an answer
	local code
	code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/")" || true
	[[ -n $code && $code != 000 ]]
}

emulator_start() {
	local name=$1 port t0
	t0=$(now_ms)
	port="$(emulator_port "$name")"
	if alive "$name"; then
		# A running emulator is reused only if it runs the binary just built:
		# an emulator whose code changed would otherwise test the old code.
		if cmp -s "/proc/$(<"$(pidfile "$name")")/exe" "$EMU_BIN"; then
			log "$name: already running (127.0.0.1:$port)"
			return 0
		fi
		log "$name: running an older ferry-emulator build; restarting it"
		stop_service_pid "$name" 10
	fi
	if ! emulator_registered "$name"; then
		log "$name: not available (ferry-emulator has no '$name' yet), skipped"
		return 0
	fi
	port_free_or_die "$name" "$port"
	# shellcheck disable=SC2046 # the args are plain words by construction
	spawn "$name" "$EMU_BIN" "$name" $(emulator_args "$name")
	if [[ $name == dts ]]; then
		wait_for "$name" 30 port_open "$port" || die "$name: emulator failed to start"
	else
		wait_for "$name" 30 http_answers "$port" || die "$name: emulator failed to start"
	fi
	log "$name: started and ready in $(elapsed "$t0") (127.0.0.1:$port)"
}

emulators_up() {
	local failed=0 name was
	emulator_build
	for name in "${EMULATORS[@]}"; do
		was=
		alive "$name" && was=1
		# A subshell so one emulator's failure doesn't stop the others.
		(emulator_start "$name") || failed=1
		[[ -z $was ]] && alive "$name" && STARTED+=("$name")
	done
	((failed == 0)) || die "emulators: at least one registered emulator failed to start"
}

# ---------------------------------------------------------------- env

service_running() { # rocketmq counts as running only when both halves are
	case $1 in
	rocketmq) alive namesrv && alive broker ;;
	*) alive "$1" ;;
	esac
}

print_env() {
	if service_running rocketmq; then
		echo "FERRY_TESTBED_ROCKETMQ_NAMESRV=127.0.0.1:$NAMESRV_PORT"
		echo "FERRY_TESTBED_ROCKETMQ_BROKER=127.0.0.1:$BROKER_PORT"
	fi
	if service_running kafka; then
		echo "FERRY_TESTBED_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
	fi
	if service_running mariadb; then
		echo "FERRY_TESTBED_MYSQL_HOST=127.0.0.1"
		echo "FERRY_TESTBED_MYSQL_PORT=$MYSQL_PORT"
		echo "FERRY_TESTBED_MYSQL_USER=$MYSQL_USER"
		echo "FERRY_TESTBED_MYSQL_PASSWORD=$MYSQL_PASSWORD"
		echo "FERRY_TESTBED_MYSQL_ROOT_PASSWORD=$MYSQL_ROOT_PASSWORD"
	fi
	if service_running sls; then
		echo "FERRY_TESTBED_SLS_ENDPOINT=http://127.0.0.1:$SLS_PORT"
		echo "FERRY_TESTBED_SLS_ACCESS_KEY_ID=$EMU_KEY_ID"
		echo "FERRY_TESTBED_SLS_ACCESS_KEY_SECRET=$EMU_KEY_SECRET"
	fi
	if service_running mns; then
		echo "FERRY_TESTBED_MNS_ENDPOINT=http://127.0.0.1:$MNS_PORT"
		echo "FERRY_TESTBED_MNS_ACCESS_KEY_ID=$EMU_KEY_ID"
		echo "FERRY_TESTBED_MNS_ACCESS_KEY_SECRET=$EMU_KEY_SECRET"
	fi
	if service_running dts; then
		echo "FERRY_TESTBED_DTS_BROKERS=127.0.0.1:$DTS_PORT"
		echo "FERRY_TESTBED_DTS_USER=$DTS_USER"
		echo "FERRY_TESTBED_DTS_PASSWORD=$DTS_PASSWORD"
		echo "FERRY_TESTBED_DTS_GROUP=$DTS_GROUP"
		echo "FERRY_TESTBED_DTS_TOPIC=$DTS_TOPIC"
	fi
	return 0
}

write_env() {
	print_env >"$TB/env.tmp"
	mv -f "$TB/env.tmp" "$TB/env"
}

# ---------------------------------------------------------------- commands

lock() {
	mkdir -p "$TB/run" "$TB/logs"
	exec 9>"$TB/run/lock"
	flock -w 600 9 || die "another testbed.sh holds $TB/run/lock"
}

# hold_users <service>: take the exclusive side of the lock that Go tests
# share while they use a service (internal/testbed, .testbed/run/<key>.users.lock),
# so stopping it waits for running tests instead of failing them. Held on
# fd 8 until this (sub)shell exits. testbed.Run already holds it for the
# script it runs and says so with FERRY_TESTBED_USERS_LOCKED=1.
hold_users() {
	[[ -n ${FERRY_TESTBED_USERS_LOCKED:-} ]] && return 0
	local key=$1
	case $key in namesrv | broker) key=rocketmq ;; esac
	mkdir -p "$TB/run"
	exec 8>>"$TB/run/$key.users.lock"
	if ! flock -x -n 8; then
		log "$1: waiting for running tests to release it"
		flock -x -w 240 8 || die "$1: tests still using it after 240 s"
	fi
}

# run_group <name> <function>: run one service group in the background with
# its output prefixed; the group's newly started services land in
# $TB/run/started.<name>.
run_group() {
	local name=$1 fn=$2
	(
		STARTED=()
		trap 'printf "%s\n" "${STARTED[@]}" >"$TB/run/started.'"$name"'"' EXIT
		"$fn"
	) 2>&1 | sed -u "s/^testbed: /testbed: [$name] /" >&2
}

cmd_up() {
	lock
	local t0
	t0=$(now_ms)
	mkdir -p "$CACHE"
	rm -f "$TB"/run/started.*
	log "up: state in $TB, cache in $CACHE"
	local groups=(rocketmq kafka mariadb emulators browser kcclients) pids=() g i failed=()
	for g in "${groups[@]}"; do
		run_group "$g" "${g}_up" &
		pids+=($!)
	done
	for i in "${!groups[@]}"; do
		wait "${pids[$i]}" || failed+=("${groups[$i]}")
	done
	cat "$TB"/run/started.* 2>/dev/null | sed '/^$/d' | sort -u >"$TB/started"
	rm -f "$TB"/run/started.*
	write_env
	local started
	started="$(tr '\n' ' ' <"$TB/started")"
	log "up: started: ${started:-nothing new (all services were already running)}"
	log "up: env written to $TB/env"
	if ((${#failed[@]} > 0)); then
		die "up: failed after $(elapsed "$t0"): ${failed[*]} (logs in $TB/logs)"
	fi
	log "up: all services ready in $(elapsed "$t0")"
}

stop_one() {
	case $1 in
	rocketmq) rocketmq_stop ;;
	namesrv) stop_service_pid namesrv 30 ;;
	broker) stop_service_pid broker 60 ;;
	kafka) stop_service_pid kafka 60 ;;
	mariadb) stop_service_pid mariadb 60 ;;
	sls | mns | dts) stop_service_pid "$1" 10 ;;
	*) die "unknown service '$1' (rocketmq namesrv broker kafka mariadb sls mns dts)" ;;
	esac
}

start_one() {
	STARTED=()
	mkdir -p "$CACHE"
	case $1 in
	rocketmq) rocketmq_up ;;
	namesrv) rmq_prepare && namesrv_start ;;
	broker) rmq_prepare && broker_start && rocketmq_ready ;;
	kafka) kafka_up ;;
	mariadb) mariadb_up ;;
	sls | mns | dts)
		[[ -x $EMU_BIN ]] || emulator_build
		emulator_start "$1"
		;;
	*) die "unknown service '$1' (rocketmq namesrv broker kafka mariadb sls mns dts)" ;;
	esac
	write_env
}

cmd_down() {
	local wipe='' only_started=''
	while (($# > 0)); do
		case $1 in
		--wipe) wipe=1 ;;
		--started) only_started=1 ;;
		*) die "down: unknown flag $1" ;;
		esac
		shift
	done
	lock
	local svcs=()
	if [[ -n $only_started ]]; then
		[[ -f $TB/started ]] && mapfile -t svcs <"$TB/started"
		[[ ${#svcs[@]} -gt 0 ]] || log "down --started: the last up started nothing; leaving services running"
	else
		svcs=("${ALL_SERVICES[@]}")
	fi
	local s pids=() rmq=()
	# Services stop concurrently (the broker's graceful shutdown alone takes
	# ~10 s), except that the broker goes before the name server so it can
	# unregister.
	for s in "${svcs[@]}"; do
		case $s in
		broker | namesrv | rocketmq) rmq+=("$s") ;;
		*)
			(hold_users "$s" && stop_one "$s") &
			pids+=($!)
			;;
		esac
	done
	if ((${#rmq[@]} > 0)); then
		(
			hold_users rocketmq
			for s in broker namesrv; do
				[[ " ${rmq[*]} " == *" $s "* || " ${rmq[*]} " == *" rocketmq "* ]] && stop_one "$s"
			done
		) &
		pids+=($!)
	fi
	local rc=0
	for s in "${pids[@]}"; do wait "$s" || rc=1; done
	((rc == 0)) || die "down: could not stop every service"
	rm -f "$TB/started"
	if [[ -n $wipe ]]; then
		local any=
		for s in "${ALL_SERVICES[@]}"; do alive "$s" && any=1; done
		[[ -z $any ]] || die "down --wipe: some services are still running; not wiping"
		rm -rf "${TB:?}/rocketmq" "${TB:?}/kafka" "${TB:?}/mariadb" "${TB:?}/bin" "${TB:?}/logs" "${TB:?}/run" "${TB:?}/env"
		log "down: wiped $TB (the download cache $CACHE is kept)"
	elif [[ -d $TB ]]; then
		write_env
	fi
}

cmd_status() {
	local s port pid state
	for s in "${ALL_SERVICES[@]}"; do
		case $s in
		namesrv) port=$NAMESRV_PORT ;;
		broker) port=$BROKER_PORT ;;
		kafka) port=$KAFKA_PORT ;;
		mariadb) port=$MYSQL_PORT ;;
		*) port="$(emulator_port "$s")" ;;
		esac
		if alive "$s"; then
			pid="$(<"$(pidfile "$s")")"
			if port_open "$port"; then
				state="running   pid=$pid 127.0.0.1:$port"
			else
				state="starting  pid=$pid 127.0.0.1:$port (port not open)"
			fi
		elif [[ " ${EMULATORS[*]} " == *" $s "* ]] && [[ -x $EMU_BIN ]] && ! emulator_registered "$s"; then
			state="not available (ferry-emulator has no '$s')"
		else
			state="stopped"
		fi
		printf '%-8s %s\n' "$s" "$state"
	done
	if command -v chromium >/dev/null; then
		printf '%-8s %s\n' chromium "installed $(command -v chromium) (for the dashboard's browser test)"
	else
		printf '%-8s %s\n' chromium "not installed (up installs it)"
	fi
	if [[ -f $KC_CLIENTS_DIR/kafka-connect-py/.installed && -f $KC_CLIENTS_DIR/kafka-connect-cli/.installed ]]; then
		printf '%-8s %s\n' kc-py "installed in $KC_CLIENTS_DIR (Kafka Connect Python clients)"
	else
		printf '%-8s %s\n' kc-py "not installed (up installs it)"
	fi
}

main() {
	local cmd=${1:-}
	[[ $# -gt 0 ]] && shift
	case $cmd in
	up) cmd_up ;;
	kc-clients) kcclients_up ;;
	down) cmd_down "$@" ;;
	status) cmd_status ;;
	env) print_env ;;
	start | stop | restart)
		[[ $# -eq 1 && " rocketmq ${ALL_SERVICES[*]} " == *" $1 "* ]] ||
			die "usage: testbed.sh $cmd <rocketmq|namesrv|broker|kafka|mariadb|sls|mns|dts>"
		lock
		local t0
		t0=$(now_ms)
		[[ $cmd == start ]] || hold_users "$1"
		[[ $cmd == start ]] || stop_one "$1"
		[[ $cmd == stop ]] || start_one "$1"
		[[ $cmd == stop ]] && write_env
		log "$cmd $1: done in $(elapsed "$t0")"
		;;
	*)
		sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
}

main "$@"
