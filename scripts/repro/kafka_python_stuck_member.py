#!/usr/bin/env python3
# Issue 20 repro: two kafka-python consumers in one process, range assignor, session 10 s,
# heartbeat 500 ms, auto-commit 300 ms, 4-partition topic. Reports each member's assignment
# over time; flags a member left empty while the other holds all four for > 15 s.
import sys, threading, time, logging
from kafka import KafkaConsumer, KafkaProducer, KafkaAdminClient
from kafka.admin import NewTopic
from kafka.coordinator.assignors.range import RangePartitionAssignor
B = sys.argv[1]; RUN = float(sys.argv[2]) if len(sys.argv) > 2 else 60
if len(sys.argv) > 3:
    logging.basicConfig(level=logging.DEBUG, filename=sys.argv[3], format="%(asctime)s %(threadName)s %(name)s %(message)s")
topic = "stuck-%d" % int(time.time() * 1000)
a = KafkaAdminClient(bootstrap_servers=B); a.create_topics([NewTopic(topic, 4, 1)]); a.close()
p = KafkaProducer(bootstrap_servers=B)
stop = time.time() + RUN
state = {}
def produce():
    i = 0
    while time.time() < stop:
        p.send(topic, b"v%d" % i); i += 1; time.sleep(0.01)
def consume(name):
    c = KafkaConsumer(topic, bootstrap_servers=B, group_id=topic, partition_assignment_strategy=[RangePartitionAssignor],
                      session_timeout_ms=10000, heartbeat_interval_ms=500, auto_commit_interval_ms=300,
                      auto_offset_reset="earliest", client_id=name)
    while time.time() < stop:
        c.poll(timeout_ms=200)
        state[name] = (time.time(), sorted(tp.partition for tp in c.assignment()))
    c.close()
ts = [threading.Thread(target=produce, name="prod")] + [threading.Thread(target=consume, args=(n,), name=n) for n in ("c1", "c2")]
for t in ts: t.start()
empty_since = {}
stuck = False
while time.time() < stop:
    time.sleep(1)
    now = time.time()
    snap = {k: v[1] for k, v in state.items()}
    for k, parts in snap.items():
        others = [v for kk, v in snap.items() if kk != k]
        if not parts and others and len(others[0]) == 4:
            empty_since.setdefault(k, now)
            if now - empty_since[k] > 15 and not stuck:
                stuck = True; print("STUCK", k, "empty for", int(now - empty_since[k]), "s", snap, flush=True)
        else:
            empty_since.pop(k, None)
for t in ts: t.join(timeout=30)
print("RESULT", "stuck" if stuck else "ok", {k: v[1] for k, v in state.items()})
