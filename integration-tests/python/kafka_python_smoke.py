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
