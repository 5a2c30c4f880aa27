// A program on sarama 1.22.1 (Debian's golang-github-shopify-sarama-dev, built in GOPATH
// mode), as services frozen on it still run: for each protocol version it is configured
// with, it creates a topic, lists topics with their configs and describes one, produces
// records with chosen timestamps, looks offsets up by time, consumes in a consumer group
// whose offset manager commits (OffsetCommit v1), reads the commits back (OffsetFetch v1,
// and v0 from a client configured for 0.8.2.0), and resumes from them.
//
//	go run main.go BOOTSTRAP
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func check(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

// collector gathers the messages of a consumer group session until it has `want` of them.
type collector struct {
	mu   sync.Mutex
	got  map[int32][]int64
	n    int
	want int
	done chan struct{}
}

func (c *collector) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (c *collector) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (c *collector) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		c.mu.Lock()
		c.got[m.Partition] = append(c.got[m.Partition], m.Offset)
		c.n++
		if c.n == c.want {
			close(c.done)
		}
		c.mu.Unlock()
		s.MarkMessage(m, "sarama-"+m.Topic)
	}
	return nil
}

// consume runs one group member until it has seen `want` messages, then closes it (its
// offset manager commits on close).
func consume(bootstrap []string, version sarama.KafkaVersion, group, topic string, want int) map[int32][]int64 {
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.CommitInterval = 200 * time.Millisecond
	cg, err := sarama.NewConsumerGroup(bootstrap, group, cfg)
	check(err, "consumer group")
	c := &collector{got: map[int32][]int64{}, want: want, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, c); err != nil {
				errs <- err
				return
			}
		}
	}()
	select {
	case <-c.done:
	case err := <-errs:
		fail("consume %s: %v", topic, err)
	case <-time.After(30 * time.Second):
		fail("consume %s: %d of %d messages in 30 s", topic, c.n, want)
	}
	cancel()
	check(cg.Close(), "close consumer group")
	return c.got
}

// describe lists topics and describes one: ListTopics describes every topic's configs with
// DescribeConfigs v0 and keeps the ones that are not defaults.
func describe(admin sarama.ClusterAdmin, topic, retention string) {
	topics, err := admin.ListTopics()
	check(err, "list topics")
	detail, ok := topics[topic]
	if !ok || detail.NumPartitions != 2 {
		fail("list topics: %s missing or wrong: %+v", topic, detail)
	}
	if v := detail.ConfigEntries["retention.ms"]; v == nil || *v != retention {
		fail("list topics: retention.ms of %s is %v", topic, v)
	}
	if v, ok := detail.ConfigEntries["cleanup.policy"]; ok {
		fail("list topics: the default cleanup.policy listed as set: %v", *v)
	}
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	check(err, "describe config")
	seen := map[string]sarama.ConfigEntry{}
	for _, e := range entries {
		seen[e.Name] = e
	}
	if e := seen["retention.ms"]; e.Value != retention || e.Default {
		fail("describe config: retention.ms = %+v", e)
	}
	if e := seen["cleanup.policy"]; e.Value != "delete" || !e.Default {
		fail("describe config: cleanup.policy = %+v", e)
	}
}

func run(bootstrap []string, version sarama.KafkaVersion) {
	topic := "sarama122-" + strings.ReplaceAll(version.String(), ".", "-")
	group := topic + "-group"
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner

	admin, err := sarama.NewClusterAdmin(bootstrap, cfg)
	check(err, "cluster admin")
	retention := "3600000"
	check(admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"retention.ms": &retention}}, false), "create topic")
	// DescribeConfigs came with 0.11; sarama refuses it for older versions itself.
	if version.IsAtLeast(sarama.V0_11_0_0) {
		describe(admin, topic, retention)
	}

	// Ten records, six on partition 0 and four on 1, one second apart.
	producer, err := sarama.NewSyncProducer(bootstrap, cfg)
	check(err, "producer")
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := 0; i < 10; i++ {
		p := int32(0)
		if i >= 6 {
			p = 1
		}
		_, _, err := producer.SendMessage(&sarama.ProducerMessage{
			Topic: topic, Partition: p, Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)),
			Value: sarama.StringEncoder(fmt.Sprintf("v%d", i)), Timestamp: base.Add(time.Duration(i) * time.Second),
		})
		check(err, "produce")
	}

	// Offsets by time (ListOffsets v1): the first record at or after the time.
	client, err := sarama.NewClient(bootstrap, cfg)
	check(err, "client")
	at := func(p int32, t time.Time) int64 {
		o, err := client.GetOffset(topic, p, t.UnixNano()/int64(time.Millisecond))
		check(err, "get offset")
		return o
	}
	if o := at(0, base.Add(3*time.Second)); o != 3 {
		fail("offset of partition 0 at +3 s: %d, want 3", o)
	}
	if o := at(1, base.Add(7*time.Second)); o != 1 {
		fail("offset of partition 1 at +7 s: %d, want 1", o)
	}
	if o := at(0, base.Add(time.Hour*2)); o != -1 {
		fail("offset after every record: %d, want -1", o)
	}
	if o, _ := client.GetOffset(topic, 0, sarama.OffsetNewest); o != 6 {
		fail("newest offset of partition 0: %d, want 6", o)
	}

	// A group member consumes everything; its commits are read back at OffsetFetch v1
	// (this admin) and v0 (a client configured for 0.8.2.0).
	got := consume(bootstrap, version, group, topic, 10)
	if len(got[0]) != 6 || len(got[1]) != 4 {
		fail("consumed %v", got)
	}
	oldCfg := sarama.NewConfig()
	oldCfg.Version = sarama.V0_8_2_0
	oldClient, err := sarama.NewClient(bootstrap, oldCfg)
	check(err, "0.8.2 client")
	coordinator, err := oldClient.Coordinator(group)
	check(err, "coordinator")
	for _, fetchVersion := range []int16{0, 1} {
		req := &sarama.OffsetFetchRequest{Version: fetchVersion, ConsumerGroup: group}
		req.AddPartition(topic, 0)
		req.AddPartition(topic, 1)
		resp, err := coordinator.FetchOffset(req)
		check(err, "offset fetch")
		for p, want := range map[int32]int64{0: 6, 1: 4} {
			b := resp.GetBlock(topic, p)
			if b == nil || b.Err != sarama.ErrNoError || b.Offset != want || b.Metadata != "sarama-"+topic {
				fail("OffsetFetch v%d of partition %d: %+v, want offset %d", fetchVersion, p, b, want)
			}
		}
	}
	offsets, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1}})
	check(err, "list consumer group offsets")
	if b := offsets.GetBlock(topic, 1); b == nil || b.Offset != 4 {
		fail("ListConsumerGroupOffsets: %+v", b)
	}

	// The group resumes from its commits: only new records are consumed.
	for i := 0; i < 2; i++ {
		_, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: int32(i), Value: sarama.StringEncoder("more")})
		check(err, "produce more")
	}
	again := consume(bootstrap, version, group, topic, 2)
	if len(again[0]) != 1 || again[0][0] != 6 || len(again[1]) != 1 || again[1][0] != 4 {
		fail("resumed at %v, want partition 0 at 6 and 1 at 4", again)
	}
	check(producer.Close(), "close producer")
	check(client.Close(), "close client")
	check(oldClient.Close(), "close old client")
	check(admin.Close(), "close admin")
	fmt.Printf("sarama 1.22 as %s ok\n", version)
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: main BOOTSTRAP")
	}
	bootstrap := []string{os.Args[1]}
	// 0.11.0: record batches with max_timestamp -1 in their headers (sarama's habit), so
	// lookups by time need the broker to recompute it; 0.10.2: message sets of format v1.
	for _, v := range []sarama.KafkaVersion{sarama.V0_11_0_0, sarama.V0_10_2_0, sarama.V2_0_0_0} {
		run(bootstrap, v)
	}
}
