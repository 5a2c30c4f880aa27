// Programs on today's Go clients against a broker: IBM/sarama (newest release) as a
// producer, consumer group member and cluster admin; segmentio/kafka-go's Writer, Reader with
// a consumer group, and its Conn; franz-go's kadm admin client.
//
//	go run . BOOTSTRAP
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func check(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

type handler struct {
	mu   sync.Mutex
	seen map[string]bool
	want int
	done chan struct{}
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.seen[string(m.Value)] = true
		if len(h.seen) == h.want {
			close(h.done)
		}
		h.mu.Unlock()
		s.MarkMessage(m, "")
	}
	return nil
}

func saramaNewest(bootstrap string) {
	topic := "sarama-newest"
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_9_0_0
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = sarama.CompressionZSTD
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest

	admin, err := sarama.NewClusterAdmin([]string{bootstrap}, cfg)
	check(err, "sarama admin")
	check(admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false), "sarama create topic")
	producer, err := sarama.NewSyncProducer([]string{bootstrap}, cfg)
	check(err, "sarama producer")
	for i := 0; i < 300; i++ {
		_, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: topic,
			Key: sarama.StringEncoder(fmt.Sprintf("k%d", i%17)), Value: sarama.StringEncoder(fmt.Sprintf("v%d", i))})
		check(err, "sarama produce")
	}
	check(producer.Close(), "sarama producer close")

	group, err := sarama.NewConsumerGroup([]string{bootstrap}, "sarama-newest-g", cfg)
	check(err, "sarama group")
	h := &handler{seen: map[string]bool{}, want: 300, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if err := group.Consume(ctx, []string{topic}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
				fail("sarama consume: %v", err)
			}
		}
	}()
	select {
	case <-h.done:
	case <-time.After(60 * time.Second):
		fail("sarama group read %d of 300", len(h.seen))
	}
	cancel()
	check(group.Close(), "sarama group close")
	offsets, err := admin.ListConsumerGroupOffsets("sarama-newest-g", map[string][]int32{topic: {0, 1, 2}})
	check(err, "sarama list group offsets")
	var total int64
	for p := int32(0); p < 3; p++ {
		total += offsets.GetBlock(topic, p).Offset
	}
	if total != 300 {
		fail("sarama group committed %d in all, want 300", total)
	}
	groups, err := admin.DescribeConsumerGroups([]string{"sarama-newest-g"})
	check(err, "sarama describe groups")
	if len(groups) != 1 || groups[0].State != "Empty" {
		fail("sarama group described as %+v", groups)
	}
	check(admin.DeleteConsumerGroup("sarama-newest-g"), "sarama delete group")
	check(admin.Close(), "sarama admin close")
	fmt.Println("sarama newest ok")
}

func kafkaGo(bootstrap string) {
	topic := "kafka-go-t"
	conn, err := kafkago.Dial("tcp", bootstrap)
	check(err, "kafka-go dial")
	check(conn.CreateTopics(kafkago.TopicConfig{Topic: topic, NumPartitions: 2, ReplicationFactor: 1}), "kafka-go create topic")
	parts, err := conn.ReadPartitions(topic)
	check(err, "kafka-go read partitions")
	if len(parts) != 2 {
		fail("kafka-go sees %d partitions", len(parts))
	}
	conn.Close()

	w := &kafkago.Writer{Addr: kafkago.TCP(bootstrap), Topic: topic, Balancer: &kafkago.Hash{},
		RequiredAcks: kafkago.RequireAll, Compression: kafkago.Snappy, BatchTimeout: 10 * time.Millisecond}
	var msgs []kafkago.Message
	for i := 0; i < 200; i++ {
		msgs = append(msgs, kafkago.Message{Key: []byte(fmt.Sprintf("k%d", i%13)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kafkago.Header{{Key: "i", Value: []byte(fmt.Sprint(i))}}})
	}
	check(w.WriteMessages(context.Background(), msgs...), "kafka-go write")
	check(w.Close(), "kafka-go writer close")

	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{bootstrap}, GroupID: "kafka-go-g", Topic: topic,
		StartOffset: kafkago.FirstOffset, MaxWait: 200 * time.Millisecond, CommitInterval: 0})
	seen := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(seen) < 200 {
		m, err := r.FetchMessage(ctx)
		check(err, fmt.Sprintf("kafka-go fetch (%d read)", len(seen)))
		if len(m.Headers) != 1 || m.Headers[0].Key != "i" {
			fail("kafka-go headers %+v", m.Headers)
		}
		seen[string(m.Value)] = true
		check(r.CommitMessages(ctx, m), "kafka-go commit")
	}
	check(r.Close(), "kafka-go reader close")
	fmt.Println("kafka-go ok")
}

func franzAdmin(bootstrap string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	check(err, "kgo client")
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	topic := "kadm-t"
	created, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")}, topic)
	check(err, "kadm create")
	check(created.Err, "kadm create topic")
	td, err := adm.ListTopics(ctx, topic)
	check(err, "kadm list")
	if len(td[topic].Partitions) != 2 {
		fail("kadm topic %+v", td[topic])
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, topic)
	check(err, "kadm describe configs")
	rc, err := cfgs.On(topic, nil)
	check(err, "kadm configs of topic")
	found := false
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.MaybeValue() == "3600000" {
			found = true
		}
	}
	if !found {
		fail("kadm retention.ms not described")
	}
	_, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("7200000")}}, topic)
	check(err, "kadm alter configs")
	_, err = adm.CreatePartitions(ctx, 1, topic)
	check(err, "kadm create partitions")
	for i := 0; i < 30; i++ {
		check(cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("x")}).FirstErr(), "kgo produce")
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	check(err, "kadm end offsets")
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	if sum != 30 {
		fail("kadm end offsets sum %d, want 30", sum)
	}
	dels, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: {At: 10}}})
	check(err, "kadm delete records")
	check(dels.Error(), "kadm delete records result")
	if d, _ := dels.Lookup(topic, 0); d.LowWatermark != 10 {
		fail("kadm delete records: low watermark %d, want 10", d.LowWatermark)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	check(err, "kadm start offsets")
	if o, _ := starts.Lookup(topic, 0); o.Offset != 10 {
		fail("kadm start offset %d, want 10", o.Offset)
	}
	b := kadm.NewACLs().Topics(topic).Allow("User:bob").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	_, err = adm.CreateACLs(ctx, b)
	check(err, "kadm create acls")
	described, err := adm.DescribeACLs(ctx, kadm.NewACLs().AnyResource().Allow().AllowHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	check(err, "kadm describe acls")
	var principals []string
	for _, d := range described {
		for _, a := range d.Described {
			principals = append(principals, a.Principal)
		}
	}
	sort.Strings(principals)
	if len(principals) == 0 || principals[0] != "User:bob" {
		fail("kadm acls %v", principals)
	}
	deleted, err := adm.DeleteTopics(ctx, topic)
	check(err, "kadm delete topic")
	check(deleted[topic].Err, "kadm delete topic result")
	fmt.Println("kadm ok")
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: modern BOOTSTRAP")
	}
	saramaNewest(os.Args[1])
	kafkaGo(os.Args[1])
	franzAdmin(os.Args[1])
	fmt.Println("go clients ok")
}
