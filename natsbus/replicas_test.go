package natsbus

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Every replica that beats is listed, however busy the bucket: a
// listing that missed a replica whose heartbeat was being written took it
// off the admin page and out of the balancer's view.
func TestEveryBeatingReplicaIsListedWhileTheyBeat(t *testing.T) {
	servers(t, func(t *testing.T, url string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		tag := time.Now().Format("150405.000000000")
		names := []string{"list-a." + tag, "list-b." + tag}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for _, n := range names {
			r, err := connect(t, url, n, 5*time.Second).Replicas(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Beat(ctx, ReplicaInfo{Addr: n}); err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() { // far faster than ReplicaBeat, to meet every listing
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := r.Beat(ctx, ReplicaInfo{Addr: n}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		reader, err := connect(t, url, "list-reader."+tag, 5*time.Second).Replicas(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const listings = 300
		var short []string
		for i := range listings {
			rs, err := reader.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, r := range rs {
				seen[r.Name] = true
			}
			for _, n := range names {
				if !seen[n] {
					short = append(short, fmt.Sprintf("listing %d missed %s", i, n))
				}
			}
		}
		close(stop)
		wg.Wait()
		if len(short) > 0 {
			t.Errorf("%d of %d listings missed a beating replica: %v", len(short), listings, short[:min(len(short), 5)])
		}
	})
}
