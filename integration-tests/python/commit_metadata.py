"""Commit metadata crosses clients byte for byte.

kafka-python commits metadata "four"; the broker must answer OffsetFetch with exactly those four
bytes at every version (v1 is kafka-python's own read; v9 is librdkafka's grouped form, read
here with a raw request so that the check does not depend on a client). confluent-kafka's own
commit of "four" arrives as "four\\0": its Python binding sends strlen + 1 bytes, and the broker
keeps what it was sent, as Kafka does. (confluent-kafka reading kafka-python's "four" back shows
bytes after it: its binding reads the metadata as a C string that librdkafka did not
terminate. See docs/compatibility.md.)
"""
import socket
import struct
import sys

from kafka import KafkaConsumer, KafkaAdminClient, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata

bootstrap = sys.argv[1]
host, port = bootstrap.rsplit(":", 1)


def offset_fetch_v9(group):
    """OffsetFetch v9 for all of `group`'s offsets: {(topic, partition): (offset, metadata)}."""
    group = group.encode()
    header = struct.pack(">hhih", 9, 9, 7, 3) + b"raw" + b"\x00"
    body = (b"\x02" + bytes([len(group) + 1]) + group  # groups[1].group_id
            + b"\x00" + struct.pack(">i", -1)          # member_id null, member_epoch -1
            + b"\x00" + b"\x00"                        # topics null (all), tags
            + b"\x00" + b"\x00")                       # require_stable false, tags
    request = header + body
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", s.recv(4))[0]
        data = b""
        while len(data) < size:
            data += s.recv(size - len(data))
    at = 4 + 1 + 4  # correlation id, header tags, throttle

    def uvarint():
        nonlocal at
        shift = value = 0
        while True:
            b = data[at]
            at += 1
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    def compact_bytes():
        nonlocal at
        n = uvarint() - 1
        if n < 0:
            return None
        out = data[at:at + n]
        at += n
        return out

    out = {}
    for _ in range(uvarint() - 1):  # groups
        compact_bytes()  # group id
        for _ in range(uvarint() - 1):  # topics
            topic = compact_bytes().decode()
            for _ in range(uvarint() - 1):  # partitions
                partition, offset, _epoch = struct.unpack(">iqi", data[at:at + 16])
                at += 16
                metadata = compact_bytes()
                at += 2  # error code
                uvarint()  # tags
                out[(topic, partition)] = (offset, metadata)
            uvarint()
        at += 2  # group error code
        uvarint()
    return out


admin = KafkaAdminClient(bootstrap_servers=bootstrap)
admin.create_topics([NewTopic("commit-metadata", 1, 1)])
admin.close()
tp = TopicPartition("commit-metadata", 0)

consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id="kp", enable_auto_commit=False)
consumer.assign([tp])
consumer.commit({tp: OffsetAndMetadata(4, "four", -1)})
assert consumer.committed(tp, metadata=True) == OffsetAndMetadata(4, "four", -1), \
    consumer.committed(tp, metadata=True)
consumer.close()
assert offset_fetch_v9("kp") == {("commit-metadata", 0): (4, b"four")}, offset_fetch_v9("kp")

try:
    import confluent_kafka
except ImportError:
    confluent_kafka = None
if confluent_kafka is not None:
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "ck"})
    c.commit(offsets=[confluent_kafka.TopicPartition("commit-metadata", 0, 7, metadata="four")],
             asynchronous=False)
    got = c.committed([confluent_kafka.TopicPartition("commit-metadata", 0)], timeout=10)
    assert (got[0].offset, got[0].metadata) == (7, "four"), got
    c.close()
    assert offset_fetch_v9("ck") == {("commit-metadata", 0): (7, b"four\x00")}, offset_fetch_v9("ck")
print("commit metadata ok")
