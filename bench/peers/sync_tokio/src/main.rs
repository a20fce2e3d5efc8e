//! Tokio peer of bench/sync_bench.cpp (current_thread runtime).
//!
//! Usage: sync_tokio pingpong|prodcons|lock N [options]
//! Prints exactly one JSON line to stdout.
//!
//!  pingpong N            two tasks exchange N messages through two
//!                        `mpsc::channel(1)`; round trips per second.
//!  prodcons N [maxsize=1024] [producers=4] [consumers=4]
//!                        producers send N ints in total into one
//!                        `mpsc::channel(maxsize)`; the consumers share the
//!                        receiver behind a `tokio::sync::Mutex` (tokio's
//!                        mpsc has a single receiver) and receive until a
//!                        sentinel (-1, one each), summing (checked).
//!                        Items per second.
//!  lock N [tasks=1000]   `tasks` tasks each lock one `tokio::sync::Mutex`
//!                        N times with `yield_now()` inside the critical
//!                        section (counter checked); acquisitions per second.

use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Mutex};

async fn pingpong(n: u64) -> f64 {
    let (to_pong_tx, mut to_pong_rx) = mpsc::channel::<u64>(1);
    let (to_ping_tx, mut to_ping_rx) = mpsc::channel::<u64>(1);
    let t0 = Instant::now();
    let pong = tokio::spawn(async move {
        for _ in 0..n {
            let v = to_pong_rx.recv().await.unwrap();
            to_ping_tx.send(v + 1).await.unwrap();
        }
    });
    let mut v = 0u64;
    for _ in 0..n {
        to_pong_tx.send(v).await.unwrap();
        v = to_ping_rx.recv().await.unwrap();
    }
    pong.await.unwrap();
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(v, n);
    secs
}

async fn prodcons(n: i64, maxsize: usize, producers: i64, consumers: usize) -> f64 {
    let (tx, rx) = mpsc::channel::<i64>(maxsize);
    let rx = Arc::new(Mutex::new(rx));
    let t0 = Instant::now();
    let ctasks: Vec<_> = (0..consumers)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut sum = 0i64;
                loop {
                    let v = { rx.lock().await.recv().await.unwrap() };
                    if v < 0 {
                        break;
                    }
                    sum += v;
                }
                sum
            })
        })
        .collect();
    let ptasks: Vec<_> = (0..producers)
        .map(|p| {
            let tx = tx.clone();
            let (begin, end) = (n * p / producers, n * (p + 1) / producers);
            tokio::spawn(async move {
                for i in begin..end {
                    tx.send(i).await.unwrap();
                }
            })
        })
        .collect();
    for t in ptasks {
        t.await.unwrap();
    }
    for _ in 0..consumers {
        tx.send(-1).await.unwrap();
    }
    let mut total = 0i64;
    for t in ctasks {
        total += t.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(total, n * (n - 1) / 2);
    secs
}

async fn lock_contention(n: u64, tasks: u64) -> f64 {
    let counter = Arc::new(Mutex::new(0u64));
    let t0 = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let counter = counter.clone();
            tokio::spawn(async move {
                for _ in 0..n {
                    let mut guard = counter.lock().await;
                    let seen = *guard;
                    tokio::task::yield_now().await;
                    *guard = seen + 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(*counter.lock().await, n * tasks);
    secs
}

fn usage() -> ! {
    eprintln!("usage: sync_tokio pingpong N | prodcons N [maxsize producers consumers] | lock N [tasks]");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        usage();
    }
    let n: i64 = args[1].parse().unwrap_or_else(|_| usage());
    if n <= 0 {
        usage();
    }
    let arg = |i: usize, fallback: i64| -> i64 { args.get(i).map(|s| s.parse().unwrap_or_else(|_| usage())).unwrap_or(fallback) };
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    match args[0].as_str() {
        "pingpong" => {
            let secs = rt.block_on(pingpong(n as u64));
            println!(
                "{{\"workload\":\"pingpong\",\"impl\":\"tokio\",\"n\":{},\"seconds\":{:.6},\"round_trips_per_sec\":{:.1}}}",
                n,
                secs,
                n as f64 / secs
            );
        }
        "prodcons" => {
            let (maxsize, producers, consumers) = (arg(2, 1024), arg(3, 4), arg(4, 4));
            if maxsize < 1 || producers < 1 || consumers < 1 {
                usage();
            }
            let secs = rt.block_on(prodcons(n, maxsize as usize, producers, consumers as usize));
            println!(
                "{{\"workload\":\"prodcons\",\"impl\":\"tokio\",\"n\":{},\"maxsize\":{},\"producers\":{},\"consumers\":{},\"seconds\":{:.6},\"items_per_sec\":{:.1}}}",
                n,
                maxsize,
                producers,
                consumers,
                secs,
                n as f64 / secs
            );
        }
        "lock" => {
            let tasks = arg(2, 1000);
            if tasks < 1 {
                usage();
            }
            let secs = rt.block_on(lock_contention(n as u64, tasks as u64));
            println!(
                "{{\"workload\":\"lock\",\"impl\":\"tokio\",\"n\":{},\"tasks\":{},\"seconds\":{:.6},\"acquisitions_per_sec\":{:.1}}}",
                n,
                tasks,
                secs,
                (n * tasks) as f64 / secs
            );
        }
        _ => usage(),
    }
}
