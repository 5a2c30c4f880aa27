// Kafka Streams word count with exactly_once_v2, in three roles that
// streams-wordcount.sh runs as separate processes so the application can be killed with
// SIGKILL mid-stream and restarted:
//
//   java WordCount produce BOOTSTRAP FROM TO   lines FROM..TO-1 into wc-in (acks=all)
//   java WordCount app BOOTSTRAP STATE_DIR     the application, until killed
//   java WordCount verify BOOTSTRAP LINES      reads wc-out read_committed: the last count of
//                                              every word must equal its count in LINES lines
//
// Line i holds the words "a<i%7> b<i%11> c<i%13>", so every count is known in advance.
import java.time.Duration;
import java.util.*;

import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;
import org.apache.kafka.streams.*;
import org.apache.kafka.streams.kstream.*;

public class WordCount {
    static final String IN = "wc-in";
    static final String OUT = "wc-out";

    static String line(int i) {
        return "a" + (i % 7) + " b" + (i % 11) + " c" + (i % 13);
    }

    static Map<String, Long> expected(int lines) {
        Map<String, Long> counts = new TreeMap<>();
        for (int i = 0; i < lines; i++) {
            for (String w : line(i).split(" ")) {
                counts.merge(w, 1L, Long::sum);
            }
        }
        return counts;
    }

    static void produce(String bootstrap, int from, int to) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("linger.ms", "5");
        try (KafkaProducer<String, String> producer =
                     new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = from; i < to; i++) {
                producer.send(new ProducerRecord<>(IN, "line-" + i, line(i)));
                if (i % 100 == 99) {
                    producer.flush();
                    Thread.sleep(50);
                }
            }
        }
    }

    static void app(String bootstrap, String stateDir) throws Exception {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "wordcount-eos");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.String().getClass());
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.String().getClass());
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        StreamsBuilder builder = new StreamsBuilder();
        builder.<String, String>stream(IN)
                .flatMapValues(v -> Arrays.asList(v.split(" ")))
                .groupBy((k, w) -> w)
                .count()
                .toStream()
                .to(OUT, Produced.with(Serdes.String(), Serdes.Long()));
        KafkaStreams streams = new KafkaStreams(builder.build(), p);
        streams.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler
                    .StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((now, before) -> System.out.println("state " + now));
        streams.start();
        // Runs until killed (or until the application stops by itself, which is an error).
        while (streams.state().isRunningOrRebalancing() || streams.state() == KafkaStreams.State.CREATED) {
            Thread.sleep(200);
        }
        System.out.println("stopped: " + streams.state());
        System.exit(1);
    }

    static void verify(String bootstrap, int lines) throws Exception {
        Map<String, Long> want = expected(lines);
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("isolation.level", "read_committed");
        Map<String, Long> last = new TreeMap<>();
        try (KafkaConsumer<String, Long> c =
                     new KafkaConsumer<>(p, new StringDeserializer(), new LongDeserializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            c.partitionsFor(OUT).forEach(i -> parts.add(new TopicPartition(OUT, i.partition())));
            c.assign(parts);
            c.seekToBeginning(parts);
            long deadline = System.currentTimeMillis() + 120_000;
            while (!last.equals(want) && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(500))) {
                    Long w = want.get(r.key());
                    if (w == null || r.value() > w) {
                        System.out.println("FAIL: " + r.key() + " counted " + r.value() + ", at most " + w);
                        System.exit(1);
                    }
                    last.put(r.key(), r.value());
                }
            }
        }
        if (!last.equals(want)) {
            System.out.println("FAIL: counts " + last + ", want " + want);
            System.exit(1);
        }
        System.out.println("wordcount exact: " + want.size() + " words over " + lines + " lines");
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "produce" -> produce(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]));
            case "app" -> app(args[1], args[2]);
            case "verify" -> verify(args[1], Integer.parseInt(args[2]));
            default -> throw new IllegalArgumentException(args[0]);
        }
    }
}
