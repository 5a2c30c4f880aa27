"""confluent-kafka-python's AdminClient against Strom: topics, configs (topic, broker, group),
partitions added while producing, records deleted then consumed from the new start, cluster
and log dirs, groups listed/described/deleted, committed offsets altered and deleted, ACLs,
SCRAM credentials, producers. Usage: confluent_admin.py BOOTSTRAP. Exits non-zero on the
first failed check."""

import sys
import time
import uuid

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

BOOTSTRAP = sys.argv[1]
RUN = uuid.uuid4().hex[:8]
admin = AdminClient({"bootstrap.servers": BOOTSTRAP})


def wait(futures):
    return {k: f.result(timeout=20) for k, f in futures.items()}


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def produce(topic, n, partition=None, key=None):
    p = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 1})
    for i in range(n):
        kwargs = {"value": f"v{i}".encode()}
        if partition is not None:
            kwargs["partition"] = partition
        if key is not None:
            kwargs["key"] = key
        p.produce(topic, **kwargs)
    check(p.flush(20) == 0, f"{n} records delivered to {topic}")


# --- topics and configs -------------------------------------------------------------------
topic = f"admin-{RUN}"
wait(admin.create_topics([NewTopic(topic, 2, 1, config={"retention.ms": "3600000"})]))
md = admin.list_topics(timeout=10)
check(topic in md.topics and len(md.topics[topic].partitions) == 2, "topic created with 2 partitions")

res = ConfigResource(ResourceType.TOPIC, topic)
configs = wait(admin.describe_configs([res]))[res]
check(configs["retention.ms"].value == "3600000", "retention.ms override described")
check(
    configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value,
    "override source is DYNAMIC_TOPIC_CONFIG",
)
check(configs["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value, "default source")
check(len(configs) > 20, f"every topic config described ({len(configs)})")

inc = ConfigResource(
    ResourceType.TOPIC,
    topic,
    incremental_configs=[
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
    ],
)
wait(admin.incremental_alter_configs([inc]))
configs = wait(admin.describe_configs([res]))[res]
check(configs["cleanup.policy"].value == "delete,compact", "APPEND to cleanup.policy")
check(configs["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value, "DELETE restores default")

bad = ConfigResource(
    ResourceType.TOPIC,
    topic,
    incremental_configs=[
        ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)
    ],
)
try:
    wait(admin.incremental_alter_configs([bad]))
    check(False, "invalid value refused")
except KafkaException as e:
    check(e.args[0].name() == "INVALID_CONFIG", "invalid value -> INVALID_CONFIG")

broker = ConfigResource(
    ResourceType.BROKER,
    "1",
    incremental_configs=[
        ConfigEntry("log.retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET)
    ],
)
wait(admin.incremental_alter_configs([broker]))
bres = ConfigResource(ResourceType.BROKER, "1")
bconf = wait(admin.describe_configs([bres]))[bres]
check(
    bconf["log.retention.ms"].value == "7200000"
    and bconf["log.retention.ms"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value,
    "dynamic broker config set",
)
configs = wait(admin.describe_configs([res]))[res]
check(configs["retention.ms"].value == "7200000", "topic default follows the dynamic broker config")
undo = ConfigResource(
    ResourceType.BROKER,
    "1",
    incremental_configs=[
        ConfigEntry("log.retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)
    ],
)
wait(admin.incremental_alter_configs([undo]))
try:
    ro = ConfigResource(
        ResourceType.BROKER,
        "1",
        incremental_configs=[ConfigEntry("node.id", "7", incremental_operation=AlterConfigOpType.SET)],
    )
    wait(admin.incremental_alter_configs([ro]))
    check(False, "static broker config refused")
except KafkaException as e:
    check(e.args[0].name() == "INVALID_REQUEST", "static broker config -> INVALID_REQUEST")

group_res = ConfigResource(
    ResourceType.GROUP,
    f"g-{RUN}",
    incremental_configs=[
        ConfigEntry(
            "consumer.session.timeout.ms", "50000", incremental_operation=AlterConfigOpType.SET
        )
    ],
)
wait(admin.incremental_alter_configs([group_res]))
gres = ConfigResource(ResourceType.GROUP, f"g-{RUN}")
gconf = wait(admin.describe_configs([gres]))[gres]
check(gconf["consumer.session.timeout.ms"].value == "50000", "group config set and described")

# Legacy AlterConfigs replaces the whole override set.
legacy = ConfigResource(ResourceType.TOPIC, topic, set_config={"retention.bytes": "1048576"})
wait(admin.alter_configs([legacy]))
configs = wait(admin.describe_configs([res]))[res]
check(
    configs["retention.bytes"].value == "1048576"
    and configs["cleanup.policy"].source == ConfigSource.DEFAULT_CONFIG.value,
    "legacy AlterConfigs replaced the overrides",
)

# --- partitions added while producing -----------------------------------------------------
grow = f"grow-{RUN}"
wait(admin.create_topics([NewTopic(grow, 1, 1)]))
p = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 1, "topic.metadata.refresh.interval.ms": 500})
delivered_partitions = set()


def on_delivery(err, msg):
    if err is None:
        delivered_partitions.add(msg.partition())


for i in range(50):
    p.produce(grow, value=b"x", key=str(i).encode(), on_delivery=on_delivery)
p.flush(10)
wait(admin.create_partitions([NewPartitions(grow, 3)]))
deadline = time.time() + 20
while time.time() < deadline and len(delivered_partitions) < 3:
    for i in range(50):
        p.produce(grow, value=b"y", key=f"k{i}-{time.time()}".encode(), on_delivery=on_delivery)
    p.flush(10)
    time.sleep(0.2)
check(delivered_partitions == {0, 1, 2}, "producer picked up the new partitions")

# --- delete records, then consume from the new start ---------------------------------------
dr = f"dr-{RUN}"
wait(admin.create_topics([NewTopic(dr, 1, 1)]))
produce(dr, 10, partition=0)
result = admin.delete_records([TopicPartition(dr, 0, 4)])
low = list(result.values())[0].result(timeout=20)
check(low.low_watermark == 4, "delete_records returns the new low watermark")
c = Consumer(
    {"bootstrap.servers": BOOTSTRAP, "group.id": f"dr-{RUN}", "auto.offset.reset": "earliest"}
)
c.assign([TopicPartition(dr, 0, -2)])
msg = None
deadline = time.time() + 20
while msg is None and time.time() < deadline:
    m = c.poll(1)
    if m is not None and not m.error():
        msg = m
check(msg is not None and msg.offset() == 4, "consumer starts at the new log start")
c.close()

# --- cluster and log dirs ------------------------------------------------------------------
cluster = admin.describe_cluster().result(timeout=10)
check(len(cluster.nodes) == 1 and cluster.controller is not None, "describe_cluster")
topics_desc = admin.describe_topics(TopicCollection([topic]))
d = list(topics_desc.values())[0].result(timeout=10)
check(len(d.partitions) == 2, "describe_topics")

# --- groups and committed offsets ---------------------------------------------------------
gt = f"gt-{RUN}"
wait(admin.create_topics([NewTopic(gt, 2, 1)]))
produce(gt, 20)
group = f"grp-{RUN}"
c = Consumer(
    {
        "bootstrap.servers": BOOTSTRAP,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
)
c.subscribe([gt])
got = 0
deadline = time.time() + 30
while got < 20 and time.time() < deadline:
    m = c.poll(1)
    if m is not None and not m.error():
        got += 1
check(got == 20, "group consumer read everything")
c.commit(asynchronous=False)
listed = admin.list_consumer_groups().result(timeout=10)
check(any(g.group_id == group for g in listed.valid), "list_consumer_groups shows the group")
desc = admin.describe_consumer_groups([group])[group].result(timeout=10)
check(len(desc.members) == 1 and str(desc.state).endswith("STABLE"), "describe_consumer_groups: 1 member, stable")
c.close()

offsets = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(timeout=10)
total = sum(tp.offset for tp in offsets.topic_partitions)
check(total == 20, "committed offsets listed")
admin.alter_consumer_group_offsets(
    [ConsumerGroupTopicPartitions(group, [TopicPartition(gt, 0, 1)])]
)[group].result(timeout=10)
offsets = admin.list_consumer_group_offsets(
    [ConsumerGroupTopicPartitions(group, [TopicPartition(gt, 0)])]
)[group].result(timeout=10)
check(offsets.topic_partitions[0].offset == 1, "alter_consumer_group_offsets")
# (confluent-kafka-python has no delete_consumer_group_offsets; the rdkafka and
# kafka-python tests cover OffsetDelete.)
admin.delete_consumer_groups([group])[group].result(timeout=10)
listed = admin.list_consumer_groups().result(timeout=10)
check(not any(g.group_id == group for g in listed.valid), "delete_consumer_groups")

# --- ACLs ---------------------------------------------------------------------------------
acl = AclBinding(
    ResourceType.TOPIC,
    f"acl-{RUN}",
    ResourcePatternType.PREFIXED,
    "User:alice",
    "*",
    AclOperation.READ,
    AclPermissionType.ALLOW,
)
admin.create_acls([acl])[acl].result(timeout=10)
flt = AclBindingFilter(
    ResourceType.TOPIC,
    f"acl-{RUN}-orders",
    ResourcePatternType.MATCH,
    None,
    None,
    AclOperation.ANY,
    AclPermissionType.ANY,
)
found = admin.describe_acls(flt).result(timeout=10)
check(found == [acl], "describe_acls MATCH finds the prefixed binding")
deleted = admin.delete_acls([flt])[flt].result(timeout=10)
check(deleted == [acl], "delete_acls returns the deleted binding")
check(admin.describe_acls(flt).result(timeout=10) == [], "ACL gone")

# --- SCRAM credentials --------------------------------------------------------------------
user = f"u-{RUN}"
info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192)
for f in admin.alter_user_scram_credentials(
    [UserScramCredentialUpsertion(user, info, b"secret")]
).values():
    f.result(timeout=10)
described = admin.describe_user_scram_credentials([user])[user].result(timeout=10)
check(described.scram_credential_infos[0].iterations == 8192, "SCRAM credential stored")
for f in admin.alter_user_scram_credentials(
    [UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_256)]
).values():
    f.result(timeout=10)
try:
    admin.describe_user_scram_credentials([user])[user].result(timeout=10)
    check(False, "deleted credential not found")
except KafkaException as e:
    check(e.args[0].name() == "RESOURCE_NOT_FOUND", "deleted credential -> RESOURCE_NOT_FOUND")

print("confluent-kafka-python admin: all checks passed")
