"""KIP-848 consumer groups (group.protocol=consumer) with confluent-kafka against Strom:
3 members on 6 partitions get 2-2-2; a 4th joins and the 6 partitions spread over 4; one
member is killed (SIGKILL, no leave) and the 3 left get 2-2-2 again once its session ends;
a member subscribed with a regular expression picks up a topic created later. Every record
produced is consumed once by the group.

Usage: consumer_group_protocol.py BOOTSTRAP
       consumer_group_protocol.py member BOOTSTRAP GROUP TOPIC|^REGEX   (one member)
The broker should run with short consumer sessions (group.consumer.session.timeout.ms)
and heartbeats so the test does not wait out Kafka's 45 s default."""

import json
import subprocess
import sys
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

DEADLINE_S = 90


def member(bootstrap, group, subscription):
    """One group member: prints its assignment whenever it changes, and what it consumed."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "auto.commit.interval.ms": 200,
        }
    )
    consumer.subscribe([subscription])
    last = None
    consumed = []
    while True:
        msg = consumer.poll(0.2)
        if msg is not None and msg.error() is None:
            consumed.append(f"{msg.topic()}:{msg.partition()}:{msg.offset()}")
        assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in consumer.assignment())
        if assigned != last or consumed:
            print(json.dumps({"assigned": assigned, "consumed": consumed}), flush=True)
            last = assigned
            consumed = []


class Member:
    """A member process and the last assignment it reported."""

    def __init__(self, bootstrap, group, subscription):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "member", bootstrap, group, subscription],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.assigned = []
        self.consumed = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            report = json.loads(line)
            with self.lock:
                self.assigned = report["assigned"]
                self.consumed.extend(report["consumed"])

    def assignment(self):
        with self.lock:
            return list(self.assigned)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()


def wait_for(what, check):
    deadline = time.time() + DEADLINE_S
    while time.time() < deadline:
        if check():
            print(f"ok: {what}")
            return
        time.sleep(0.25)
    raise SystemExit(f"FAILED: {what}")


def spread(members, topic, partitions, sizes):
    """Every partition of `topic` owned by exactly one member, in the given sizes."""
    owned = [[p for p in m.assignment() if p.startswith(topic + ":")] for m in members]
    flat = [p for o in owned for p in o]
    return (
        sorted(len(o) for o in owned) == sorted(sizes)
        and len(flat) == len(set(flat)) == partitions
    )


def main(bootstrap):
    run = uuid.uuid4().hex[:8]
    topic = f"kip848-{run}"
    group = f"kip848-group-{run}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)]).values():
        f.result(30)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(60):
        producer.produce(topic, key=str(i).encode(), value=b"v", partition=i % 6)
    producer.flush(30)

    members = [Member(bootstrap, group, topic) for _ in range(3)]
    procs = list(members)
    try:
        wait_for("3 members on 6 partitions: 2-2-2", lambda: spread(members, topic, 6, [2, 2, 2]))
        fourth = Member(bootstrap, group, topic)
        procs.append(fourth)
        members.append(fourth)
        wait_for(
            "a 4th member joins: 1-1-2-2",
            lambda: spread(members, topic, 6, [1, 1, 2, 2]),
        )
        victim = members.pop(0)
        victim.kill()
        wait_for(
            "one member killed: the 3 left get 2-2-2",
            lambda: spread(members, topic, 6, [2, 2, 2]),
        )
        # Every record consumed by someone (at-least-once across the moves).
        def all_consumed():
            seen = set()
            for m in procs:
                with m.lock:
                    seen.update(c for c in m.consumed if c.startswith(topic + ":"))
            return len(seen) == 60

        wait_for("all 60 records consumed", all_consumed)

        # A regex subscription picks up a topic created after it joined.
        regex_group = f"kip848-re-{run}"
        prefix = f"kip848re{run}"
        first = f"{prefix}-a"
        for f in admin.create_topics([NewTopic(first, num_partitions=2, replication_factor=1)]).values():
            f.result(30)
        watcher = Member(bootstrap, regex_group, f"^{prefix}-.*")
        procs.append(watcher)
        wait_for(
            "regex member owns the existing topic",
            lambda: sorted(watcher.assignment()) == [f"{first}:0", f"{first}:1"],
        )
        later = f"{prefix}-b"
        for f in admin.create_topics([NewTopic(later, num_partitions=3, replication_factor=1)]).values():
            f.result(30)
        wait_for(
            "regex member picks up the new topic",
            lambda: sorted(watcher.assignment())
            == sorted([f"{first}:0", f"{first}:1", f"{later}:0", f"{later}:1", f"{later}:2"]),
        )

        # The admin view: ConsumerGroupDescribe and ListGroups see a consumer group.
        described = admin.describe_consumer_groups([group])[group].result(30)
        assert len(described.members) == 3, described
        if hasattr(described, "type"):
            assert "CONSUMER" in str(described.type).upper(), described.type
        print("ok: described", described.state, len(described.members), "members")
    finally:
        for m in procs:
            m.stop()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "member":
        member(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main(sys.argv[1])
