"""kafka-python pinned to old broker versions, as clients frozen on them still run.

Each pinned client produces keyed records (plain and gzip) with Produce v1 (0.9: message format
v0) or v2 (0.10: format v1); the broker converts them to record batches. A current consumer
reads them all back: keys, values and, from 0.10 on, the timestamps sent (format v0 has none).
Pinned consumers then consume in a group from the earliest offset, commit, read the commit
back and resume from it; the (0,11) client does the same with record batches.
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

def upto(consumer, last, row):
    """The messages up to offset `last` (or until none came for the consumer's timeout)."""
    out = []
    for m in consumer:
        out.append(row(m))
        if m.offset >= last:
            break
    return out


# Pinned consumers subscribe in a group and start from the earliest offset (ListOffsets v0 for
# 0.9 and 0.10.0, v1 after), read batches converted down to their message format (Fetch v0-v1:
# magic 0, v2-v3: magic 1), commit with metadata (OffsetCommit v2), read the commit back
# (OffsetFetch v1), and a second pinned consumer of the group resumes after it.
for api in PINNED:
    for compression in (None, "gzip"):
        topic = "legacy-%s-%s" % ("-".join(map(str, api)), compression or "none")
        records, with_ts = sent[topic]
        group = "pinned-" + topic
        consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, api_version=api,
                                 group_id=group, auto_offset_reset="earliest",
                                 enable_auto_commit=False, consumer_timeout_ms=5000)
        got = upto(consumer, 4, lambda m: (m.key, m.value, m.timestamp, m.offset))
        assert [(k, v) for k, v, _, _ in got] == [(k, v) for k, v, _ in records], (api, topic, got)
        assert [o for _, _, _, o in got] == list(range(5)), (api, topic, got)
        if api >= (0, 10):
            assert [t for _, _, t, _ in got] == [t for _, _, t in records], (api, topic, got)
        tp = TopicPartition(topic, 0)
        consumer.commit({tp: OffsetAndMetadata(3, "pinned", -1)})
        assert consumer.committed(tp) == 3, (api, topic)
        meta = consumer.committed(tp, metadata=True)
        assert meta.metadata == "pinned", (api, topic, meta)
        consumer.close()
        # The group's next member resumes from the commit.
        again = KafkaConsumer(topic, bootstrap_servers=bootstrap, api_version=api,
                              group_id=group, auto_offset_reset="earliest",
                              enable_auto_commit=False, consumer_timeout_ms=5000)
        rest = upto(again, 4, lambda m: m.offset)
        assert rest == [3, 4], (api, topic, rest)
        # The end of the log, as a pinned client finds it (ListOffsets v0 before 0.10.1).
        again.seek_to_end(tp)
        assert again.position(tp) == 5, (api, topic)
        again.close()

# A current producer writes record batches with headers, gzip-compressed; pinned consumers get
# them converted down (headers dropped, as message formats v0/v1 have none; timestamps from
# 0.10 on), as Kafka 3.9 converted them.
topic = "legacy-new-gzip"
producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type="gzip", linger_ms=20)
stamp = int(time.time() * 1000) - 7000
records = [(b"n%d" % i, b"value-%d" % i, stamp + 3 * i) for i in range(6)]
for k, v, ts in records:
    producer.send(topic, key=k, value=v, timestamp_ms=ts, headers=[("trace", b"id-%s" % k)])
producer.flush()
producer.close()
for api in [(0, 9), (0, 10, 0), (0, 10, 2)]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, api_version=api,
                             group_id="new-" + "-".join(map(str, api)),
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=5000)
    got = upto(consumer, 5, lambda m: (m.offset, m.key, m.value, m.timestamp, list(m.headers)))
    consumer.close()
    # kafka-python has no timestamp (None) for a format v0 message.
    want_ts = [ts if api >= (0, 10) else None for _, _, ts in records]
    assert got == [(i, k, v, want_ts[i], []) for i, (k, v, _) in enumerate(records)], (api, got)

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
