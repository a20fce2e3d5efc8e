// Go peer of bench/sync_bench.cpp: channels and sync.Mutex on one OS thread
// (GOMAXPROCS=1, set below), Debian's golang-go.
//
// Usage: sync_go pingpong|prodcons|lock N [options]
// Prints exactly one JSON line to stdout.
//
//	pingpong N            two goroutines exchange N messages through two
//	                      channels of capacity 1; round trips per second.
//	prodcons N [maxsize=1024] [producers=4] [consumers=4]
//	                      producers send N ints in total into one channel of
//	                      capacity maxsize; consumers receive until a sentinel
//	                      (-1, one each), summing (checked). Items per second.
//	lock N [tasks=1000]   `tasks` goroutines each lock one sync.Mutex N times
//	                      with runtime.Gosched() inside the critical section
//	                      (counter checked); acquisitions per second.
//
// Build: cd bench/peers/sync_go && go build -o "$OUT" .
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func pingpong(n int64) float64 {
	toPong := make(chan int64, 1)
	toPing := make(chan int64, 1)
	t0 := time.Now()
	done := make(chan struct{})
	go func() {
		for i := int64(0); i < n; i++ {
			v := <-toPong
			toPing <- v + 1
		}
		close(done)
	}()
	v := int64(0)
	for i := int64(0); i < n; i++ {
		toPong <- v
		v = <-toPing
	}
	<-done
	secs := time.Since(t0).Seconds()
	if v != n {
		fmt.Fprintf(os.Stderr, "pingpong: counter %d, expected %d\n", v, n)
		os.Exit(1)
	}
	return secs
}

func prodcons(n int64, maxsize, producers, consumers int64) float64 {
	q := make(chan int64, maxsize)
	sums := make(chan int64, consumers)
	t0 := time.Now()
	for c := int64(0); c < consumers; c++ {
		go func() {
			s := int64(0)
			for v := range q {
				if v < 0 {
					break
				}
				s += v
			}
			sums <- s
		}()
	}
	var wg sync.WaitGroup
	for p := int64(0); p < producers; p++ {
		begin, end := n*p/producers, n*(p+1)/producers
		wg.Add(1)
		go func() {
			for i := begin; i < end; i++ {
				q <- i
			}
			wg.Done()
		}()
	}
	wg.Wait()
	for c := int64(0); c < consumers; c++ {
		q <- -1
	}
	total := int64(0)
	for c := int64(0); c < consumers; c++ {
		total += <-sums
	}
	secs := time.Since(t0).Seconds()
	if total != n*(n-1)/2 {
		fmt.Fprintf(os.Stderr, "prodcons: sum %d, expected %d\n", total, n*(n-1)/2)
		os.Exit(1)
	}
	return secs
}

func lockContention(n, tasks int64) float64 {
	var mu sync.Mutex
	counter := int64(0)
	var wg sync.WaitGroup
	t0 := time.Now()
	for t := int64(0); t < tasks; t++ {
		wg.Add(1)
		go func() {
			for i := int64(0); i < n; i++ {
				mu.Lock()
				seen := counter
				runtime.Gosched()
				counter = seen + 1
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	if counter != n*tasks {
		fmt.Fprintf(os.Stderr, "lock: counter %d, expected %d\n", counter, n*tasks)
		os.Exit(1)
	}
	return secs
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: sync_go pingpong N | prodcons N [maxsize producers consumers] | lock N [tasks]")
	os.Exit(2)
}

func main() {
	runtime.GOMAXPROCS(1)
	args := os.Args[1:]
	if len(args) < 2 {
		usage()
	}
	num := func(i int, fallback int64) int64 {
		if i >= len(args) {
			return fallback
		}
		v, err := strconv.ParseInt(args[i], 10, 64)
		if err != nil {
			usage()
		}
		return v
	}
	n := num(1, 0)
	if n <= 0 {
		usage()
	}
	switch args[0] {
	case "pingpong":
		secs := pingpong(n)
		fmt.Printf("{\"workload\":\"pingpong\",\"impl\":\"go\",\"n\":%d,\"seconds\":%.6f,\"round_trips_per_sec\":%.1f}\n",
			n, secs, float64(n)/secs)
	case "prodcons":
		maxsize, producers, consumers := num(2, 1024), num(3, 4), num(4, 4)
		if maxsize < 1 || producers < 1 || consumers < 1 {
			usage()
		}
		secs := prodcons(n, maxsize, producers, consumers)
		fmt.Printf("{\"workload\":\"prodcons\",\"impl\":\"go\",\"n\":%d,\"maxsize\":%d,\"producers\":%d,\"consumers\":%d,\"seconds\":%.6f,\"items_per_sec\":%.1f}\n",
			n, maxsize, producers, consumers, secs, float64(n)/secs)
	case "lock":
		tasks := num(2, 1000)
		if tasks < 1 {
			usage()
		}
		secs := lockContention(n, tasks)
		fmt.Printf("{\"workload\":\"lock\",\"impl\":\"go\",\"n\":%d,\"tasks\":%d,\"seconds\":%.6f,\"acquisitions_per_sec\":%.1f}\n",
			n, tasks, secs, float64(n*tasks)/secs)
	default:
		usage()
	}
}
