"""kafka-python's KafkaAdminClient (3.x) against Strom: topic configs described and altered,
partitions added while producing, records deleted then consumed from the new start, cluster
and log dirs, producers, topic partitions, groups listed/described/deleted, committed offsets
altered and deleted. Usage: kafka_python_admin.py BOOTSTRAP. Exits non-zero on the first
failed check; skips (exit 0 with a note) on kafka-python 2.x, which lacks these calls."""

import sys
import time
import uuid

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, KafkaAdminClient, NewPartitions, NewTopic

BOOTSTRAP = sys.argv[1]
RUN = uuid.uuid4().hex[:8]

if not hasattr(KafkaAdminClient, "describe_producers"):
    print(f"SKIPPED: kafka-python {kafka.__version__} has no 3.x admin API")
    sys.exit(0)

from kafka.structs import OffsetAndMetadata  # noqa: E402

admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


topic = f"kp-{RUN}"
admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"retention.ms": "3600000"})])
cfg = admin.describe_configs([ConfigResource("TOPIC", topic)])["topic"][topic]
check(cfg["retention.ms"]["value"] == "3600000", "describe_configs shows the override")
check(cfg["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG", "override source")
admin.alter_configs([ConfigResource("TOPIC", topic, configs={"retention.ms": "7200000"})])
cfg = admin.describe_configs([ConfigResource("TOPIC", topic)])["topic"][topic]
check(cfg["retention.ms"]["value"] == "7200000", "alter_configs applied")

# Partitions added while an idempotent producer writes.
producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True, linger_ms=1,
                         metadata_max_age_ms=500)
for i in range(20):
    producer.send(topic, f"v{i}".encode(), key=f"k{i}".encode(), partition=0)
producer.flush()
admin.create_partitions({topic: NewPartitions(3)})
seen = set()
deadline = time.time() + 20
while seen != {0, 1, 2} and time.time() < deadline:
    futures = [producer.send(topic, b"x", key=f"key-{i}-{time.time()}".encode()) for i in range(30)]
    producer.flush()
    seen |= {f.get(timeout=10).partition for f in futures}
    time.sleep(0.3)
check(seen == {0, 1, 2}, "producer picked up the new partitions")

# Delete records, then consume from the new start.
result = admin.delete_records({TopicPartition(topic, 0): 5})
check(result[TopicPartition(topic, 0)]["low_watermark"] == 5, "delete_records low watermark")
consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest",
                         enable_auto_commit=False, consumer_timeout_ms=5000)
tp0 = TopicPartition(topic, 0)
consumer.assign([tp0])
consumer.seek_to_beginning(tp0)
first = next(iter(consumer))
check(first.offset == 5, "consumption starts at the new log start")
consumer.close()

cluster = admin.describe_cluster()
check(len(cluster["brokers"]) == 1 and cluster["controller_id"] == cluster["brokers"][0]["broker_id"],
      "describe_cluster")
dirs = admin.describe_log_dirs()
names = {t["name"] for b in dirs for d in b["log_dirs"] for t in d["topics"]}
check(topic in names, "describe_log_dirs lists the topic")
producers = admin.describe_producers([tp0])[tp0].active_producers
check(len(producers) == 1 and producers[0].last_sequence >= 19, "describe_producers")
dtp = admin.describe_topic_partitions([topic])
check(len(dtp["topics"][0]["partitions"]) == 3, "describe_topic_partitions")

# Groups and committed offsets.
group = f"kg-{RUN}"
consumer = KafkaConsumer(topic, bootstrap_servers=BOOTSTRAP, group_id=group,
                         auto_offset_reset="earliest", enable_auto_commit=False,
                         consumer_timeout_ms=3000)
got = sum(1 for _ in consumer)
consumer.commit()
check(got > 0, f"group consumer read {got} records")
groups = admin.list_groups()
check(any(g["group_id"] == group for g in groups), "list_groups shows the group")
described = admin.describe_groups([group])[group]
check(described["group_state"] == "Stable" and len(described["members"]) == 1, "describe_groups")
consumer.close()
admin.alter_group_offsets(group, {tp0: OffsetAndMetadata(6, "", -1)})
offsets = admin.list_group_offsets({group: None})[group]
check(offsets[tp0].offset == 6, "alter_group_offsets")
admin.delete_group_offsets(group, [tp0])
offsets = admin.list_group_offsets({group: None})[group]
check(tp0 not in offsets or offsets[tp0].offset < 0, "delete_group_offsets")
result = admin.delete_groups([group])
check(not any(g["group_id"] == group for g in admin.list_groups()), "delete_groups")
admin.delete_topics([topic])
producer.close()
admin.close()
print("kafka-python admin: all checks passed")
