"""Drives a Ferry worker through kafka-connect-py's KafkaConnect class,
as a Kafka Connect user's script would. Run by cmd/ferry's
TestKafkaConnectPythonLibrary with the worker's URL as argv[1]; each step
prints its name, and any mismatch raises (exit status 1, traceback)."""

import sys
import time

import requests
from kafka_connect import KafkaConnect

URL = sys.argv[1]
kc = KafkaConnect(url=URL)


def step(name):
    print("step:", name, flush=True)


def wait_state(name, want, task_state=None, timeout=15):
    deadline = time.time() + timeout
    while True:
        st = kc.get_connector_status(name)
        tasks = st.get("tasks", [])
        if st["connector"]["state"] == want and (
            task_state is None or (tasks and all(t["state"] == task_state for t in tasks))
        ):
            return st
        if time.time() > deadline:
            raise AssertionError(f"{name} did not reach {want}/{task_state}: {st}")
        time.sleep(0.05)


step("cluster info")
info = kc.get_cluster_info()
assert info["version"] and "commit" in info and "kafka_cluster_id" in info, info

step("list empty")
assert kc.list_connectors() == [], kc.list_connectors()

step("plugins")
plugins = kc.list_connector_plugins()
classes = [p["class"] for p in plugins]
assert len(classes) == len(set(classes)), f"plugin classes are not unique: {classes}"
assert all(p["type"] in ("source", "sink") for p in plugins), plugins
source_class = next(p["class"] for p in plugins if p["type"] == "source" and p["class"].endswith("generator"))


def errors(res):
    return {c["value"]["name"]: c["value"]["errors"] for c in res["configs"] if c["value"]["errors"]}


step("validate")
good = {"name": "py-orders", "connector.class": source_class, "sink": "drop", "source.rate": "20", "tasks.max": "1"}
res = kc.validate_connector_config(source_class, good)
assert res["error_count"] == 0, errors(res)
bad = dict(good, **{"source.rate": "-1"})
res = kc.validate_connector_config(source_class, bad)
assert res["error_count"] == 1 and "source.rate" in errors(res), errors(res)

step("create with Ferry's keys")
created = kc.create_connector(
    {"name": "py-orders", "config": {"source": "generator", "source.rate": "20", "sink": "drop", "tasks.max": "1"}}
)
assert created["name"] == "py-orders", created
assert created["config"].get("connector.class"), f"no connector.class in the create response: {created}"

step("create with connector.class naming the source")
created = kc.create_connector({"name": "py-alias", "config": {"connector.class": source_class, "sink": "drop", "source.rate": "5"}})
assert created["config"]["connector.class"], created

step("list")
assert sorted(kc.list_connectors()) == ["py-alias", "py-orders"], kc.list_connectors()
assert kc.list_connectors(pattern="py-o.*") == ["py-orders"]
expanded = kc.list_connectors(expand="status")
assert set(expanded) == {"py-alias", "py-orders"}, expanded
wait_state("py-orders", "RUNNING", "RUNNING")
wait_state("py-alias", "RUNNING", "RUNNING")
assert kc.list_connectors(expand="status", state="running").keys() == {"py-alias", "py-orders"}

step("get and config")
got = kc.get_connector("py-orders")
assert got["name"] == "py-orders" and got["tasks"] == [{"connector": "py-orders", "task": 0}], got
cfg = kc.get_connector_config("py-orders")
assert cfg["source.rate"] == "20" and cfg["connector.class"], cfg
alias_cfg = kc.get_connector_config("py-alias")
assert alias_cfg["connector.class"], alias_cfg

step("status and tasks")
st = kc.get_connector_status("py-orders")
assert st["name"] == "py-orders" and st["type"] in ("source", "sink"), st
tasks = kc.list_connector_tasks("py-orders")
assert [t["id"]["task"] for t in tasks] == [0], tasks
assert kc.get_connector_task_status("py-orders", 0)["state"] == "RUNNING"

step("update")
cfg["tasks.max"] = "2"
updated = kc.update_connector("py-orders", cfg)
assert updated["config"]["tasks.max"] == "2", updated
wait_state("py-orders", "RUNNING", "RUNNING")
assert len(kc.list_connector_tasks("py-orders")) == 2

step("pause and resume")
kc.pause_connector("py-orders")
wait_state("py-orders", "PAUSED", "PAUSED")
kc.resume_connector("py-orders")
wait_state("py-orders", "RUNNING", "RUNNING")
kc.pause_all_connectors(pattern="py-.*")
wait_state("py-alias", "PAUSED", "PAUSED")
kc.resume_all_connectors(pattern="py-.*", state="paused")
wait_state("py-alias", "RUNNING", "RUNNING")

step("stop")
kc.stop_connector("py-alias")
wait_state("py-alias", "STOPPED")
kc.resume_connector("py-alias")
wait_state("py-alias", "RUNNING", "RUNNING")

step("restart")
assert kc.restart_connector("py-orders") is None  # 204, as Kafka Connect
res = kc.restart_connector("py-orders", include_tasks=True)
assert res["name"] == "py-orders" and res["connector"]["state"] in ("RESTARTING", "RUNNING"), res
kc.restart_connector_task("py-orders", 0)
kc.restart_all_connectors(pattern="py-.*", only_failed=True, include_tasks=True)
wait_state("py-orders", "RUNNING", "RUNNING")

step("topics")
topics = kc.list_connector_topics("py-orders")
assert "py-orders" in topics and isinstance(topics["py-orders"]["topics"], list), topics
kc.reset_connector_topics("py-orders")

step("offsets (the library has no call: its session's requests)")
r = requests.get(f"{URL}/connectors/py-orders/offsets")
r.raise_for_status()
assert isinstance(r.json()["offsets"], list), r.json()

step("loggers (the library has no call: its session's requests)")
r = requests.get(f"{URL}/admin/loggers")
r.raise_for_status()
assert r.json()["root"]["level"], r.json()
r = requests.put(f"{URL}/admin/loggers/ferry.runtime", json={"level": "DEBUG"})
r.raise_for_status()
assert "ferry.runtime" in r.json(), r.json()
assert requests.get(f"{URL}/admin/loggers/ferry.runtime").json()["level"] == "DEBUG"

step("delete")
kc.delete_connector("py-orders")
kc.delete_all_connectors(pattern="py-.*")
assert kc.list_connectors() == [], kc.list_connectors()

step("errors")
try:
    kc.get_connector("py-orders")
except requests.exceptions.HTTPError as e:
    assert e.response.status_code == 404, e
else:
    raise AssertionError("GET of a deleted connector did not raise")

print("all steps passed", flush=True)
