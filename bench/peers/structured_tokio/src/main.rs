//! Tokio peer for aio's structured-concurrency benchmarks (current_thread
//! runtime, like aio's single-threaded loop).
//!
//! Usage: structured_tokio WORKLOAD [N]   (one JSON line; all three without WORKLOAD)
//!
//!  fanout_taskgroup [GROUPS]: GROUPS (default 1000) JoinSets of 1000 spawned
//!      children each returning its index; join_next() until empty, summed.
//!  fanout_gather [GROUPS]: 1000 `tokio::spawn`ed children per group, their
//!      JoinHandles awaited in order (gather's ordered results), summed.
//!  wait_for [N]: N (default 1,000,000) sequential
//!      `tokio::time::timeout(10 s, work(i)).await` where work returns i at
//!      once; also times N plain `work(i).await` for the overhead.

use std::time::{Duration, Instant};
use tokio::task::JoinSet;

const CHILDREN: u64 = 1000;

async fn child(i: u64) -> u64 {
    i
}

async fn fanout_taskgroup(groups: u64) -> f64 {
    let t0 = Instant::now();
    let mut total = 0u64;
    for _ in 0..groups {
        let mut set = JoinSet::new();
        for i in 0..CHILDREN {
            set.spawn(child(i));
        }
        while let Some(r) = set.join_next().await {
            total += r.unwrap();
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(total, groups * CHILDREN * (CHILDREN - 1) / 2);
    secs
}

async fn fanout_gather(groups: u64) -> f64 {
    let t0 = Instant::now();
    let mut total = 0u64;
    for _ in 0..groups {
        let handles: Vec<_> = (0..CHILDREN).map(|i| tokio::spawn(child(i))).collect();
        for h in handles {
            total += h.await.unwrap();
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(total, groups * CHILDREN * (CHILDREN - 1) / 2);
    secs
}

#[inline(never)]
async fn work(i: u64) -> u64 {
    std::hint::black_box(i)
}

async fn wait_for_calls(n: u64) -> (f64, f64) {
    let mut total = 0u64;
    let t0 = Instant::now();
    for i in 0..n {
        total += work(i).await;
    }
    let baseline = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    for i in 0..n {
        total += tokio::time::timeout(Duration::from_secs(10), work(i)).await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(total, n * (n - 1));
    (secs, baseline)
}

fn run(workload: &str, n: u64) -> i32 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    match workload {
        "fanout_taskgroup" | "fanout_gather" => {
            let secs = if workload == "fanout_taskgroup" {
                rt.block_on(fanout_taskgroup(n))
            } else {
                rt.block_on(fanout_gather(n))
            };
            let total = n * CHILDREN;
            println!(
                "{{\"workload\":\"{}\",\"impl\":\"tokio\",\"n\":{},\"groups\":{},\"children\":{},\"seconds\":{:.6},\"children_per_sec\":{:.1}}}",
                workload, total, n, CHILDREN, secs, total as f64 / secs
            );
        }
        "wait_for" => {
            let (secs, baseline) = rt.block_on(wait_for_calls(n));
            println!(
                "{{\"workload\":\"wait_for\",\"impl\":\"tokio\",\"n\":{},\"seconds\":{:.6},\"ns_per_call\":{:.1},\"baseline_ns_per_call\":{:.1},\"overhead_ns_per_call\":{:.1}}}",
                n, secs, secs * 1e9 / n as f64, baseline * 1e9 / n as f64, (secs - baseline) * 1e9 / n as f64
            );
        }
        _ => {
            eprintln!("usage: structured_tokio [fanout_taskgroup|fanout_gather|wait_for [N]]");
            return 2;
        }
    }
    0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 1 {
        let mut rc = run("fanout_taskgroup", 1000);
        rc |= run("fanout_gather", 1000);
        rc |= run("wait_for", 1_000_000);
        std::process::exit(rc);
    }
    let workload = args[1].as_str();
    let default = if workload == "wait_for" { 1_000_000 } else { 1000 };
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(default);
    std::process::exit(run(workload, n));
}
