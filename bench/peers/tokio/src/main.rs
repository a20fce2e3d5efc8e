//! Tokio peer for the aio core benchmarks (current_thread runtime).
//!
//! Usage: tokio_bench spawn|timers|switch N
//! Prints exactly one JSON line to stdout.
//!
//!  spawn : N `tokio::spawn`ed tasks each returning its index; the JoinHandles
//!          are awaited in creation order and summed (sum is checked).
//!  timers: N spawned tasks each `tokio::time::sleep` for a seeded
//!          pseudo-random delay in [0, 1] s (see `delays`), awaited in order.
//!          (Tokio's timer wheel has 1 ms resolution.)
//!  switch: ping/pong hand control back and forth N round trips; every handoff
//!          uses a fresh `tokio::sync::oneshot` channel. The value sent is the
//!          sender of the next channel the other side must signal.
//!
//! peak_bytes_per_task = (VmHWM after workload - VmRSS before workload) / N.
//! Before the workload VmHWM is reset via /proc/self/clear_refs ("5") when the
//! kernel allows it, so startup peaks do not leak into the figure.

use std::time::{Duration, Instant};
use tokio::sync::oneshot;

fn status_kb(key: &str) -> i64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in s.lines() {
        if let Some(rest) = line.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            return rest.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(-1);
        }
    }
    -1
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Shared PRNG, identical in every peer: xorshift64 (13, 7, 17) starting at
/// 0x9E3779B97F4A7C15; task i sleeps (x_i % 1000001) microseconds.
fn delays(n: usize) -> Vec<u64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % 1_000_001
        })
        .collect()
}

async fn spawn_main(n: u64) -> f64 {
    let t0 = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
    let mut sum = 0u64;
    for h in handles {
        sum += h.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(sum, n * (n - 1) / 2);
    secs
}

async fn timers_main(ds: Vec<u64>) -> f64 {
    let t0 = Instant::now();
    let handles: Vec<_> = ds
        .iter()
        .map(|&us| tokio::spawn(async move { tokio::time::sleep(Duration::from_micros(us)).await }))
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    t0.elapsed().as_secs_f64()
}

/// A one-shot message carrying the sender of the next one-shot.
struct Hop(oneshot::Sender<Hop>);

async fn ping(mut to_pong: oneshot::Sender<Hop>, n: u64) {
    for _ in 0..n {
        let (tx, rx) = oneshot::channel();
        if to_pong.send(Hop(tx)).is_err() {
            panic!("pong went away");
        }
        to_pong = rx.await.unwrap().0;
    }
}

async fn pong(mut mine: oneshot::Receiver<Hop>, n: u64) {
    for _ in 0..n {
        let Hop(reply) = mine.await.unwrap();
        let (tx, rx) = oneshot::channel();
        mine = rx;
        if reply.send(Hop(tx)).is_err() {
            panic!("ping went away");
        }
    }
}

async fn switch_main(n: u64) -> f64 {
    let t0 = Instant::now();
    let (tx, rx) = oneshot::channel();
    let a = tokio::spawn(pong(rx, n));
    let b = tokio::spawn(ping(tx, n));
    a.await.unwrap();
    b.await.unwrap();
    t0.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!("usage: tokio_bench spawn|timers|switch N");
        std::process::exit(2)
    };
    if args.len() != 3 {
        usage();
    }
    let workload = args[1].as_str();
    let n: u64 = args[2].parse().unwrap_or_else(|_| usage());
    if n == 0 || !matches!(workload, "spawn" | "timers" | "switch") {
        usage();
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    // Precomputed before the baseline: neither timed nor counted in memory.
    let ds = if workload == "timers" { delays(n as usize) } else { Vec::new() };

    reset_peak();
    let rss_before = status_kb("VmRSS");
    let secs = match workload {
        "spawn" => rt.block_on(spawn_main(n)),
        "timers" => rt.block_on(timers_main(ds)),
        _ => rt.block_on(switch_main(n)),
    };
    let hwm = status_kb("VmHWM");
    let per_task = (hwm - rss_before) as f64 * 1024.0 / n as f64;

    match workload {
        "spawn" => println!(
            "{{\"workload\":\"spawn\",\"impl\":\"tokio\",\"n\":{},\"seconds\":{:.6},\"tasks_per_sec\":{:.1},\"peak_bytes_per_task\":{:.1}}}",
            n, secs, n as f64 / secs, per_task
        ),
        "timers" => println!(
            "{{\"workload\":\"timers\",\"impl\":\"tokio\",\"n\":{},\"seconds\":{:.6},\"overhead_seconds\":{:.6},\"peak_bytes_per_task\":{:.1}}}",
            n, secs, secs - 1.0, per_task
        ),
        _ => println!(
            "{{\"workload\":\"switch\",\"impl\":\"tokio\",\"n\":{},\"seconds\":{:.6},\"round_trips_per_sec\":{:.1}}}",
            n, secs, n as f64 / secs
        ),
    }
}
