#!/usr/bin/env python3
"""Checks a broker started on a copy of a data directory written by an earlier release
(fixtures/make_release_data.py made it): every topic, record, committed offset,
transaction, ACL, credential and config it held is still there. Usage:

    upgrade_check.py BOOTSTRAP CLUSTER_ID ROUND

It writes a little (a transaction, a record); ROUND (0, 1, ...) is how many earlier runs
did, so the same directory can be checked again after a restart.
"""
import sys

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigResource,
    ResourcePatternType,
    ResourceType,
)

bootstrap, cluster_id, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
admin = AdminClient({"bootstrap.servers": bootstrap})


def check(cond, what):
    if not cond:
        raise SystemExit(f"upgrade check failed: {what}")


metadata = admin.list_topics(timeout=30)
check(metadata.cluster_id == cluster_id, f"cluster id {metadata.cluster_id} != {cluster_id}")
partitions = {name: len(t.partitions) for name, t in metadata.topics.items()}
for name, count in [("plain", 3), ("configured", 1), ("txn-topic", 2), ("__consumer_offsets", 50)]:
    check(partitions.get(name) == count, f"topic {name}: {partitions.get(name)} partitions")
check("doomed" not in partitions, "a deleted topic came back")


def configs(resource_type, name):
    resource = ConfigResource(resource_type, name)
    return admin.describe_configs([resource])[resource].result(timeout=30)


topic = configs(ResourceType.TOPIC, "configured")
for key, value in [
    ("cleanup.policy", "compact"),
    ("retention.ms", "86400000"),
    ("max.message.bytes", "200000"),
]:
    check(topic[key].value == value, f"configured {key}={topic[key].value}")
broker = configs(ResourceType.BROKER, "1")
check(
    broker["log.retention.bytes"].value == "1073741824",
    f"dynamic broker config log.retention.bytes={broker['log.retention.bytes'].value}",
)
check(
    configs(ResourceType.TOPIC, "plain")["retention.bytes"].value == "1073741824",
    "the dynamic broker default does not reach the topics",
)
group_configs = configs(ResourceType.GROUP, "fixture-group")
check(
    group_configs["consumer.session.timeout.ms"].value == "50000",
    "group config consumer.session.timeout.ms",
)


def consume(topic, partition, start, count, isolation="read_uncommitted"):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "upgrade-check-reader",
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    consumer.assign([TopicPartition(topic, partition, start)])
    out = []
    polls = 0
    while len(out) < count and polls < 100:
        polls += 1
        m = consumer.poll(0.2)
        if m is None:
            continue
        if m.error():
            raise SystemExit(f"consume {topic}-{partition}: {m.error()}")
        out.append((m.offset(), m.key().decode(), m.value().decode()))
    # Nothing beyond what was expected.
    extra = consumer.poll(0.5)
    check(extra is None, f"{topic}-{partition}: an unexpected record {extra and extra.offset()}")
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    consumer.close()
    return out, low, high


for p in range(3):
    start = 2 if p == 2 else 0
    end = 10 + rounds if p == 0 else 10
    records, low, high = consume("plain", p, start, end - start)
    expected = [(i, f"k{p}-{i}", f"v{p}-{i}") for i in range(start, end)]
    check(records == expected, f"plain-{p}: {records}")
    check((low, high) == (start, end), f"plain-{p} watermarks {(low, high)}")

records, _, _ = consume("configured", 0, 0, 6)
latest = {k: v for _, k, v in records}
check(latest == {"key0": "value3", "key1": "value4", "key2": "value5"}, f"configured: {records}")

committed = []
for p, count in [(0, 3), (1, 2 + rounds)]:
    records, _, _ = consume("txn-topic", p, 0, count, "read_committed")
    committed += [v for _, _, v in records]
check(
    sorted(committed) == sorted([f"committed-{i}" for i in range(5)] + ["after-upgrade"] * rounds),
    f"read_committed: {committed}",
)
records, _, _ = consume("txn-topic", 0, 0, 6)
check(
    [v for _, _, v in records] == ["committed-0", "committed-2", "committed-4"]
    + [f"aborted-{i}" for i in range(3)],
    f"read_uncommitted txn-topic-0: {records}",
)


def committed_offsets(group, tps):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    got = c.committed(tps, timeout=30)
    c.close()
    return [(t.partition, t.offset, t.metadata) for t in got]


got = committed_offsets(
    "fixture-group", [TopicPartition("plain", 0), TopicPartition("plain", 1)]
)
check(got == [(0, 4, "meta-0"), (1, 7, "meta-1")], f"fixture-group offsets {got}")
got = committed_offsets("txn-group", [TopicPartition("plain", 0)])
check([o for _, o, _ in got] == [9], f"txn-group offsets (committed by a transaction) {got}")

acls = admin.describe_acls(
    AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
).result(timeout=30)
seen = sorted(
    (a.name, a.resource_pattern_type, a.principal, a.operation, a.permission_type)
    for a in acls
)
check(
    seen
    == sorted(
        [
            ("plain", ResourcePatternType.LITERAL, "User:alice", AclOperation.READ, AclPermissionType.ALLOW),
            ("conf", ResourcePatternType.PREFIXED, "User:bob", AclOperation.WRITE, AclPermissionType.DENY),
        ]
    ),
    f"ACLs {seen}",
)

scram = admin.describe_user_scram_credentials(["alice"])["alice"].result(timeout=30)
infos = [(str(i.mechanism), i.iterations) for i in scram.scram_credential_infos]
check(infos == [("ScramMechanism.SCRAM_SHA_256", 8192)], f"SCRAM credentials {infos}")

# The transactional id is still known (its epoch is bumped) and works.
txn = Producer({"bootstrap.servers": bootstrap, "transactional.id": "fixture-txn"})
txn.init_transactions(30)
txn.begin_transaction()
txn.produce("txn-topic", key="after", value="after-upgrade", partition=1)
txn.commit_transaction(30)

# New records continue the old offsets.
producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
delivered = []
producer.produce(
    "plain",
    key=f"k0-{10 + rounds}",
    value=f"v0-{10 + rounds}",
    partition=0,
    on_delivery=lambda err, m: delivered.append((err, m.offset())),
)
producer.flush(30)
check(delivered == [(None, 10 + rounds)], f"new record at {delivered}")
print("upgrade check passed")
