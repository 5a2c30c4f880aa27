"""kafka-python as users run it: admin create/list/delete, produce with acks=all, consume."""
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

bootstrap = sys.argv[1]
admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="strom-smoke")
admin.create_topics([NewTopic("py-topic", num_partitions=3, replication_factor=1,
                              topic_configs={"retention.ms": "3600000"})])
try:
    admin.create_topics([NewTopic("py-topic", num_partitions=3, replication_factor=1)])
    raise SystemExit("second create should fail")
except TopicAlreadyExistsError:
    pass
assert "py-topic" in admin.list_topics(), admin.list_topics()

producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
futures = [producer.send("py-topic", key=b"k%d" % i, value=b"v%d" % i, partition=i % 3) for i in range(300)]
producer.flush()
offsets = [f.get(timeout=10).offset for f in futures]
assert offsets[:3] == [0, 0, 0], offsets[:3]
assert offsets[-1] == 99, offsets[-1]

consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                         consumer_timeout_ms=10000)
parts = [TopicPartition("py-topic", p) for p in range(3)]
consumer.assign(parts)
consumer.seek_to_beginning(*parts)
seen = {}
deadline = time.time() + 30
while sum(len(v) for v in seen.values()) < 300 and time.time() < deadline:
    for tp, records in consumer.poll(timeout_ms=1000).items():
        seen.setdefault(tp.partition, []).extend((r.offset, r.key, r.value) for r in records)
for p in range(3):
    got = seen.get(p, [])
    assert [o for o, _, _ in got] == list(range(100)), (p, got[:5])
    assert [v for _, _, v in got] == [b"v%d" % i for i in range(p, 300, 3)], p
end = consumer.end_offsets(parts)
assert all(end[tp] == 100 for tp in parts), end
consumer.close()
producer.close()

admin.delete_topics(["py-topic"])
deadline = time.time() + 10
while "py-topic" in admin.list_topics() and time.time() < deadline:
    time.sleep(0.2)
assert "py-topic" not in admin.list_topics()
admin.close()
print("kafka-python smoke: ok")

# A consumer group: two groups read the same topic independently; commits resume.
admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="strom-smoke-groups")
admin.create_topics([NewTopic("py-group", num_partitions=2, replication_factor=1)])
producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
for i in range(40):
    producer.send("py-group", value=b"g%d" % i, partition=i % 2)
producer.flush()


def consume_group(group, count):
    c = KafkaConsumer("py-group", bootstrap_servers=bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=15000)
    got = []
    deadline = time.time() + 30
    while len(got) < count and time.time() < deadline:
        for records in c.poll(timeout_ms=500, max_records=count - len(got)).values():
            got.extend(records)
    c.commit()
    c.close()
    return got


first = consume_group("py-a", 40)
assert len(first) == 40, len(first)
assert len(consume_group("py-b", 40)) == 40
producer.send("py-group", value=b"late", partition=0)
producer.flush()
again = consume_group("py-a", 1)
assert [r.value for r in again] == [b"late"], again


def group_ids():
    # kafka-python 3.x: list_groups() of dicts; 2.x: list_consumer_groups() of tuples.
    if hasattr(admin, "list_groups"):
        return {g["group_id"]: g for g in admin.list_groups()}
    return {g[0]: {"group_id": g[0], "protocol_type": g[1]} for g in admin.list_consumer_groups()}


groups = group_ids()
assert "py-a" in groups and "py-b" in groups, groups
assert groups["py-a"]["protocol_type"] == "consumer", groups
if hasattr(admin, "describe_groups"):
    desc = admin.describe_groups(["py-a"])["py-a"]
    assert desc["group_state"] == "Empty" and desc["error"] is None, desc
    assert admin.delete_groups(["py-b"]) == {"py-b": "OK"}
else:
    assert admin.describe_consumer_groups(["py-a"])[0].state == "Empty"
    admin.delete_consumer_groups(["py-b"])
assert "py-b" not in group_ids()
admin.close()
print("kafka-python groups: ok")

# Cluster and configs.
admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="strom-smoke-admin")
if hasattr(admin, "describe_cluster"):
    cluster = admin.describe_cluster()
    assert len(cluster["brokers"]) == 1 and cluster["cluster_id"], cluster
from kafka.admin import ConfigResource, ConfigResourceType
admin.create_topics([NewTopic("py-configs", num_partitions=1, replication_factor=1,
                              topic_configs={"cleanup.policy": "compact"})])
described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "py-configs")])
print("describe_configs:", str(described)[:300])
assert "compact" in str(described), described
admin.close()
print("kafka-python admin: ok")

# Log dirs.
admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="strom-smoke-logdirs")
dirs = admin.describe_log_dirs()
print("describe_log_dirs:", str(dirs)[:200])
assert "py-configs" in str(dirs), dirs
admin.close()
print("kafka-python log dirs: ok")
