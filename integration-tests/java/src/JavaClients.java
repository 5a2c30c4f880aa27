// The Java client (org.apache.kafka:kafka-clients, the version in ../pom.xml) against a
// broker: Admin for topics, configs, partitions, offsets, records, groups, ACLs, cluster and
// log dirs; an idempotent producer; transactions committed and aborted, read with
// read_committed; a classic consumer group of two members committing, described and reset by
// Admin; and a consume-transform-produce loop with sendOffsetsToTransaction.
//
//   java -cp CLASSPATH JavaClients.java BOOTSTRAP
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;

import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.acl.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.resource.*;
import org.apache.kafka.common.serialization.*;

public class JavaClients {
    static String bootstrap;

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    static <T> T get(KafkaFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    static Properties base() {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        return p;
    }

    static KafkaProducer<String, String> producer(Properties extra) {
        Properties p = base();
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        p.put("acks", "all");
        p.putAll(extra);
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> consumer(String group, String isolation) {
        return consumer(group, isolation, "classic");
    }

    /** A consumer of `group` on `protocol`: classic, or consumer (KIP-848). */
    static KafkaConsumer<String, String> consumer(String group, String isolation, String protocol) {
        Properties p = base();
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        if (group != null) {
            p.put("group.id", group);
            p.put("group.protocol", protocol);
        }
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("isolation.level", isolation);
        return new KafkaConsumer<>(p);
    }

    /** Polls until `want` records arrived (at most 30 s). */
    static List<ConsumerRecord<String, String>> pollN(KafkaConsumer<String, String> c, int want) {
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 30_000;
        while (out.size() < want && System.currentTimeMillis() < deadline) {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                out.add(r);
            }
        }
        return out;
    }

    static void admin(Admin admin) throws Exception {
        String t = "java-admin";
        get(admin.createTopics(List.of(new NewTopic(t, 3, (short) 1)
                .configs(Map.of("retention.ms", "3600000")))).all());
        try {
            get(admin.createTopics(List.of(new NewTopic(t, 3, (short) 1))).all());
            check(false, "a second creation fails");
        } catch (ExecutionException e) {
            check(e.getCause() instanceof org.apache.kafka.common.errors.TopicExistsException,
                    "TopicExistsException, got " + e.getCause());
        }
        check(get(admin.listTopics().names()).contains(t), "listed");
        TopicDescription d = get(admin.describeTopics(List.of(t)).allTopicNames()).get(t);
        check(d.partitions().size() == 3, "3 partitions");
        check(d.topicId() != null && !d.topicId().equals(Uuid.ZERO_UUID), "topic id");

        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, t);
        Config cfg = get(admin.describeConfigs(List.of(res)).all()).get(res);
        check("3600000".equals(cfg.get("retention.ms").value()), "retention.ms set");
        check(cfg.get("retention.ms").source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG,
                "retention.ms is a topic config");
        check(cfg.get("cleanup.policy").isDefault(), "cleanup.policy default");
        get(admin.incrementalAlterConfigs(Map.of(res, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact,delete"),
                        AlterConfigOp.OpType.SET)))).all());
        cfg = get(admin.describeConfigs(List.of(res)).all()).get(res);
        check("7200000".equals(cfg.get("retention.ms").value()), "retention.ms altered");
        check("compact,delete".equals(cfg.get("cleanup.policy").value()), "cleanup.policy altered");

        get(admin.createPartitions(Map.of(t, NewPartitions.increaseTo(4))).all());
        d = get(admin.describeTopics(List.of(t)).allTopicNames()).get(t);
        check(d.partitions().size() == 4, "4 partitions after growth");

        // Offsets and records.
        try (KafkaProducer<String, String> p = producer(new Properties())) {
            long now = System.currentTimeMillis();
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>(t, 0, now - 10_000 + i * 1000L, "k" + i, "v" + i)).get();
            }
        }
        TopicPartition tp0 = new TopicPartition(t, 0);
        long now = System.currentTimeMillis();
        Map<TopicPartition, OffsetSpec> earliest = Map.of(tp0, OffsetSpec.earliest());
        check(get(admin.listOffsets(earliest).all()).get(tp0).offset() == 0, "earliest 0");
        check(get(admin.listOffsets(Map.of(tp0, OffsetSpec.latest())).all()).get(tp0).offset() == 10,
                "latest 10");
        check(get(admin.listOffsets(Map.of(tp0, OffsetSpec.forTimestamp(now - 10_000 + 3500)))
                .all()).get(tp0).offset() == 4, "offset by time");
        check(get(admin.listOffsets(Map.of(tp0, OffsetSpec.maxTimestamp())).all()).get(tp0).offset() == 9,
                "max timestamp");
        get(admin.deleteRecords(Map.of(tp0, RecordsToDelete.beforeOffset(3))).all());
        check(get(admin.listOffsets(earliest).all()).get(tp0).offset() == 3, "earliest after delete");

        // Cluster, log dirs.
        DescribeClusterResult cluster = admin.describeCluster();
        check(get(cluster.nodes()).size() == 1, "one node");
        check(get(cluster.clusterId()) != null, "cluster id");
        int node = get(cluster.nodes()).iterator().next().id();
        Map<String, LogDirDescription> dirs = get(admin.describeLogDirs(List.of(node)).allDescriptions()).get(node);
        check(dirs.values().stream().anyMatch(dd -> dd.replicaInfos().containsKey(tp0)), "log dir holds tp0");

        // ACLs: stored and listed (not enforced).
        AclBinding acl = new AclBinding(new ResourcePattern(ResourceType.TOPIC, t, PatternType.LITERAL),
                new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW));
        get(admin.createAcls(List.of(acl)).all());
        Collection<AclBinding> acls = get(admin.describeAcls(AclBindingFilter.ANY).values());
        check(acls.contains(acl), "acl listed: " + acls);
        check(get(admin.deleteAcls(List.of(AclBindingFilter.ANY)).all()).contains(acl), "acl deleted");

        get(admin.deleteTopics(List.of(t)).all());
        check(!get(admin.listTopics().names()).contains(t), "deleted");
        System.out.println("admin ok");
    }

    static void idempotent() throws Exception {
        String t = "java-idempotent";
        Properties extra = new Properties();
        extra.put("enable.idempotence", "true");
        extra.put("linger.ms", "5");
        extra.put("compression.type", "lz4");
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        try (KafkaProducer<String, String> p = producer(extra)) {
            for (int i = 0; i < 1000; i++) {
                fs.add(p.send(new ProducerRecord<>(t, 0, "k" + (i % 10), "v" + i)));
            }
            p.flush();
        }
        for (int i = 0; i < 1000; i++) {
            check(fs.get(i).get().offset() == i, "offset " + i);
        }
        try (KafkaConsumer<String, String> c = consumer(null, "read_uncommitted")) {
            c.assign(List.of(new TopicPartition(t, 0)));
            c.seekToBeginning(c.assignment());
            List<ConsumerRecord<String, String>> got = pollN(c, 1000);
            check(got.size() == 1000, "read 1000, got " + got.size());
            for (int i = 0; i < 1000; i++) {
                check(got.get(i).value().equals("v" + i), "value " + i);
            }
        }
        System.out.println("idempotent ok");
    }

    static void transactions(Admin admin) throws Exception {
        String t = "java-txn";
        Properties extra = new Properties();
        extra.put("transactional.id", "java-txn-1");
        try (KafkaProducer<String, String> p = producer(extra)) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>(t, 0, "c", "committed-" + i));
            }
            p.commitTransaction();
            p.beginTransaction();
            for (int i = 0; i < 5; i++) {
                p.send(new ProducerRecord<>(t, 0, "a", "aborted-" + i));
            }
            p.flush();
            p.abortTransaction();
            p.beginTransaction();
            p.send(new ProducerRecord<>(t, 0, "c", "committed-last"));
            p.commitTransaction();
        }
        try (KafkaConsumer<String, String> c = consumer(null, "read_committed")) {
            c.assign(List.of(new TopicPartition(t, 0)));
            c.seekToBeginning(c.assignment());
            List<ConsumerRecord<String, String>> got = pollN(c, 11);
            List<String> values = new ArrayList<>();
            got.forEach(r -> values.add(r.value()));
            check(values.size() == 11 && values.stream().allMatch(v -> v.startsWith("committed-")),
                    "read_committed sees the 11 committed: " + values);
            // Nothing more: the aborted records stay hidden.
            check(c.poll(Duration.ofMillis(1000)).isEmpty(), "no aborted record");
        }
        try (KafkaConsumer<String, String> c = consumer(null, "read_uncommitted")) {
            c.assign(List.of(new TopicPartition(t, 0)));
            c.seekToBeginning(c.assignment());
            check(pollN(c, 16).size() == 16, "read_uncommitted sees all 16");
        }
        // The coordinator's view (KIP-664): listed, filtered, described.
        Collection<TransactionListing> listed = get(admin.listTransactions().all());
        check(listed.stream().anyMatch(l -> l.transactionalId().equals("java-txn-1")
                && l.state() == TransactionState.COMPLETE_COMMIT), "listed: " + listed);
        Collection<TransactionListing> ongoing = get(admin.listTransactions(
                new ListTransactionsOptions().filterStates(List.of(TransactionState.ONGOING))).all());
        check(ongoing.isEmpty(), "nothing ongoing: " + ongoing);
        TransactionDescription desc = get(admin.describeTransactions(List.of("java-txn-1")).all()).get("java-txn-1");
        check(desc.state() == TransactionState.COMPLETE_COMMIT && desc.topicPartitions().isEmpty(),
                "described: " + desc);
        // Transactions v2 (KIP-890, transaction.version 2 finalized): every commit or abort
        // bumped the epoch, from 0 after initTransactions to 3.
        check(desc.producerEpoch() == 3, "three ends, three epoch bumps: " + desc);
        System.out.println("transactions ok");
    }

    /** A group of two on `protocol` (classic, or consumer: KIP-848). */
    static void groups(Admin admin, String protocol) throws Exception {
        String t = "java-group-" + protocol;
        String g = "java-group-g-" + protocol;
        get(admin.createTopics(List.of(new NewTopic(t, 4, (short) 1))).all());
        try (KafkaProducer<String, String> p = producer(new Properties())) {
            for (int i = 0; i < 400; i++) {
                p.send(new ProducerRecord<>(t, i % 4, "k" + i, "v" + i));
            }
        }
        KafkaConsumer<String, String> a = consumer(g, "read_uncommitted", protocol);
        KafkaConsumer<String, String> b = consumer(g, "read_uncommitted", protocol);
        a.subscribe(List.of(t));
        b.subscribe(List.of(t));
        // Both poll until the group settles with two members and every record is read once.
        Set<String> seen = new HashSet<>();
        long deadline = System.currentTimeMillis() + 60_000;
        while (seen.size() < 400 && System.currentTimeMillis() < deadline) {
            for (KafkaConsumer<String, String> c : List.of(a, b)) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                    seen.add(r.topic() + r.partition() + "@" + r.offset());
                }
                try {
                    c.commitSync();
                } catch (CommitFailedException e) {
                    // A commit that races a rebalance (a stale generation or, with KIP-848, a
                    // stale member epoch) fails; the next poll brings the new one.
                }
            }
        }
        check(seen.size() == 400, "400 records read, got " + seen.size());
        // Keep both in the group until Admin sees it stable with two members.
        ConsumerGroupDescription desc = null;
        deadline = System.currentTimeMillis() + 30_000;
        while (System.currentTimeMillis() < deadline) {
            a.poll(Duration.ofMillis(50));
            b.poll(Duration.ofMillis(50));
            desc = get(admin.describeConsumerGroups(List.of(g)).all()).get(g);
            if (desc.groupState() == GroupState.STABLE && desc.members().size() == 2) {
                break;
            }
        }
        check(desc != null && desc.groupState() == GroupState.STABLE, "stable: " + desc);
        check(desc.members().size() == 2, "two members: " + desc);
        int assigned = desc.members().stream().mapToInt(m -> m.assignment().topicPartitions().size()).sum();
        check(assigned == 4, "4 partitions assigned: " + desc);
        check(a.assignment().size() + b.assignment().size() == 4, "consumers hold 4 partitions");
        a.commitSync();
        b.commitSync();
        Map<TopicPartition, OffsetAndMetadata> committed =
                get(admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata());
        check(committed.size() == 4 && committed.values().stream().allMatch(o -> o.offset() == 100),
                "committed 100 everywhere: " + committed);
        check(get(admin.listGroups().all()).stream().anyMatch(l -> l.groupId().equals(g)
                && l.type().map(ty -> ty.toString().equalsIgnoreCase(protocol)).orElse(false)),
                "group listed as " + protocol);
        a.close();
        b.close();
        // An empty group's offsets are reset by Admin, then the group is deleted.
        TopicPartition tp = new TopicPartition(t, 2);
        get(admin.alterConsumerGroupOffsets(g, Map.of(tp, new OffsetAndMetadata(10))).all());
        committed = get(admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata());
        check(committed.get(tp).offset() == 10, "reset to 10: " + committed);
        get(admin.deleteConsumerGroupOffsets(g, Set.of(tp)).all());
        committed = get(admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata());
        check(!committed.containsKey(tp), "offset deleted: " + committed);
        get(admin.deleteConsumerGroups(List.of(g)).all());
        check(get(admin.listGroups().all()).stream().noneMatch(l -> l.groupId().equals(g)), "group deleted");
        System.out.println("groups ok (" + protocol + ")");
    }

    /** Consume-transform-produce: input offsets committed in the output transaction. */
    static void exactlyOnce(Admin admin) throws Exception {
        String in = "java-eos-in";
        String out = "java-eos-out";
        String g = "java-eos-g";
        try (KafkaProducer<String, String> p = producer(new Properties())) {
            for (int i = 0; i < 50; i++) {
                p.send(new ProducerRecord<>(in, 0, "k" + i, "" + i));
            }
        }
        Properties extra = new Properties();
        extra.put("transactional.id", "java-eos-1");
        try (KafkaProducer<String, String> p = producer(extra);
             KafkaConsumer<String, String> c = consumer(g, "read_committed")) {
            p.initTransactions();
            c.subscribe(List.of(in));
            int done = 0;
            long deadline = System.currentTimeMillis() + 60_000;
            while (done < 50 && System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(200));
                if (rs.isEmpty()) {
                    continue;
                }
                p.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                for (ConsumerRecord<String, String> r : rs) {
                    p.send(new ProducerRecord<>(out, 0, r.key(), "x" + (Integer.parseInt(r.value()) * 2)));
                    offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    done++;
                }
                p.sendOffsetsToTransaction(offsets, c.groupMetadata());
                p.commitTransaction();
            }
            check(done == 50, "transformed 50, did " + done);
        }
        // Transactions v2: offsets joined the transactions without AddOffsetsToTxn, and each
        // commit bumped the epoch.
        TransactionDescription eos = get(admin.describeTransactions(List.of("java-eos-1")).all()).get("java-eos-1");
        check(eos.state() == TransactionState.COMPLETE_COMMIT && eos.producerEpoch() > 0,
                "epoch bumped by the commits: " + eos);
        Map<TopicPartition, OffsetAndMetadata> committed =
                get(admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata());
        check(committed.get(new TopicPartition(in, 0)).offset() == 50, "input offsets committed: " + committed);
        try (KafkaConsumer<String, String> c = consumer(null, "read_committed")) {
            c.assign(List.of(new TopicPartition(out, 0)));
            c.seekToBeginning(c.assignment());
            List<ConsumerRecord<String, String>> got = pollN(c, 50);
            check(got.size() == 50, "50 outputs, got " + got.size());
            for (int i = 0; i < 50; i++) {
                check(got.get(i).value().equals("x" + (2 * i)), "output " + i);
            }
        }
        System.out.println("exactly-once ok");
    }

    public static void main(String[] args) throws Exception {
        bootstrap = args[0];
        Properties p = base();
        try (Admin admin = Admin.create(p)) {
            admin(admin);
            idempotent();
            transactions(admin);
            groups(admin, "classic");
            groups(admin, "consumer");
            exactlyOnce(admin);
        }
        System.out.println("java clients ok");
    }
}
