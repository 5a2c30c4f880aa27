"""kafka-python pinned to old broker versions, as clients frozen on them still run.

Each pinned client produces keyed records (plain and gzip) with Produce v1 (0.9: message format
v0) or v2 (0.10: format v1); the broker converts them to record batches. A current consumer
reads them all back: keys, values and, from 0.10 on, the timestamps sent (format v0 has none).
The (0,11) client also consumes from the start, commits and reads its commit back.
"""
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

bootstrap = sys.argv[1]
PINNED = [(0, 9), (0, 10, 0), (0, 10, 2), (0, 11)]
sent = {}
for api in PINNED:
    for compression in (None, "gzip"):
        topic = "legacy-%s-%s" % ("-".join(map(str, api)), compression or "none")
        producer = KafkaProducer(bootstrap_servers=bootstrap, api_version=api,
                                 compression_type=compression, linger_ms=20)
        stamp = int(time.time() * 1000) - 5000
        with_ts = api >= (0, 10)
        records = [(b"k%d" % i, b"v%d-%s" % (i, topic.encode()), stamp + i) for i in range(5)]
        futures = [producer.send(topic, key=k, value=v, timestamp_ms=ts if with_ts else None)
                   for k, v, ts in records]
        producer.flush()
        offsets = [f.get(timeout=10).offset for f in futures]
        assert offsets == list(range(5)), (api, compression, offsets)
        producer.close()
        sent[topic] = (records, with_ts)

for topic, (records, with_ts) in sent.items():
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=5000, group_id=None)
    got = [(m.key, m.value, m.timestamp, m.offset) for m in consumer]
    consumer.close()
    assert [(k, v) for k, v, _, _ in got] == [(k, v) for k, v, _ in records], (topic, got)
    assert [o for _, _, _, o in got] == list(range(5)), (topic, got)
    if with_ts:
        assert [t for _, _, t, _ in got] == [t for _, _, t in records], (topic, got)
    else:
        assert all(t == -1 for _, _, t, _ in got), (topic, got)

# Pinned consumers read batches converted down to their message format (Fetch v0-v1: magic 0,
# v2-v3: magic 1), from an offset they seek to (ListOffsets v0, which 0.9 and 0.10.0 would use
# to find the start, is not served yet), and commit.
for api in PINNED:
    for compression in (None, "gzip"):
        topic = "legacy-%s-%s" % ("-".join(map(str, api)), compression or "none")
        records, with_ts = sent[topic]
        group = "pinned-" + topic
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, api_version=api, group_id=group,
                                 enable_auto_commit=False, consumer_timeout_ms=5000)
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        got = [(m.key, m.value, m.timestamp, m.offset) for m in consumer]
        assert [(k, v) for k, v, _, _ in got] == [(k, v) for k, v, _ in records], (api, topic, got)
        assert [o for _, _, _, o in got] == list(range(5)), (api, topic, got)
        if api >= (0, 10):
            assert [t for _, _, t, _ in got] == [t for _, _, t in records], (api, topic, got)
        consumer.commit({tp: OffsetAndMetadata(5, "pinned", -1)})
        assert consumer.committed(tp) == 5, (api, topic)
        consumer.close()

# 0.11 speaks record batches end to end: consume, commit, read the commit back.
topic = "legacy-0-11-none"
consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, api_version=(0, 11),
                         group_id="legacy-0-11", auto_offset_reset="earliest",
                         enable_auto_commit=False, consumer_timeout_ms=5000)
values = [m.value for m in consumer]
assert len(values) == 5, values
tp = TopicPartition(topic, 0)
consumer.commit({tp: OffsetAndMetadata(5, "done", -1)})
assert consumer.committed(tp) == 5
consumer.close()
print("legacy clients ok")
