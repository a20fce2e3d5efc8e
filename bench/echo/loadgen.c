/* bench/echo/loadgen.c — the echo benchmark's load generator.
 *
 * One thread, epoll, N connections to HOST:PORT, each keeping INFLIGHT
 * 64-byte requests outstanding (1 = request/response without pipelining).
 * A response is complete when 64 echoed bytes came back; the connection
 * then sends its next request. After WARMUP seconds the counters reset and
 * it measures for SECONDS. Prints one JSON line: round trips per second,
 * p50/p99 latency in microseconds (from a per-connection FIFO of send
 * times), and the total round trips including warm-up.
 *
 *   loadgen HOST PORT CONNS INFLIGHT SECONDS [WARMUP] [MAX_ROUND_TRIPS]
 *
 * MAX_ROUND_TRIPS > 0: stop after that many round trips in all (warm-up
 * included, WARMUP ignored) — the fixed work of the callgrind runs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64
#define MAXQ 64
#define HIST_US 1000000 /* latency histogram: 1 us buckets up to 1 s */

struct conn {
    int fd;
    size_t partial;    /* bytes of the current response received */
    uint64_t ts[MAXQ]; /* send times of outstanding requests (ns), FIFO */
    int head, tail;
    size_t unsent; /* request bytes send() has not taken yet */
};

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static char payload[MSG * MAXQ];
static char inbuf[1 << 16];
static uint32_t *hist;
static uint64_t hist_over, measured;

static void flush(struct conn *c) {
    while (c->unsent > 0) {
        size_t n = c->unsent < sizeof payload ? c->unsent : sizeof payload;
        ssize_t w = send(c->fd, payload, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return; /* finished on the next event */
            perror("loadgen: send");
            exit(1);
        }
        c->unsent -= (size_t)w;
    }
}

static void send_requests(struct conn *c, int k, uint64_t t) {
    for (int i = 0; i < k; ++i) {
        c->ts[c->tail] = t;
        c->tail = (c->tail + 1) % MAXQ;
    }
    c->unsent += (size_t)k * MSG;
    flush(c);
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s HOST PORT CONNS INFLIGHT SECONDS [WARMUP] [MAX_ROUND_TRIPS]\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    const int port = atoi(argv[2]);
    const int nconn = atoi(argv[3]);
    const int inflight = atoi(argv[4]);
    const double seconds = atof(argv[5]);
    double warmup = argc > 6 ? atof(argv[6]) : 1.0;
    const uint64_t max_rt = argc > 7 ? strtoull(argv[7], NULL, 10) : 0;
    if (inflight < 1 || inflight > MAXQ - 1 || nconn < 1) {
        fprintf(stderr, "loadgen: bad arguments\n");
        return 2;
    }
    if (max_rt) warmup = 0;
    memset(payload, 'x', sizeof payload);
    hist = calloc(HIST_US, sizeof *hist);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: HOST must be an IPv4 address\n");
        return 2;
    }

    int ep = epoll_create1(0);
    struct conn *conns = calloc((size_t)nconn, sizeof *conns);
    for (int i = 0; i < nconn; ++i) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        for (int attempt = 0;; ++attempt) { /* the server may still be starting */
            if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) break;
            if (attempt > 200) {
                perror("loadgen: connect");
                return 1;
            }
            close(fd);
            fd = socket(AF_INET, SOCK_STREAM, 0);
            usleep(20000);
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        conns[i].fd = fd;
        struct epoll_event ev;
        ev.events = EPOLLIN;
        ev.data.ptr = &conns[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }

    const uint64_t start = now_ns();
    uint64_t measure_from = start + (uint64_t)(warmup * 1e9);
    uint64_t stop_at = measure_from + (uint64_t)(seconds * 1e9);
    int measuring = warmup <= 0;
    uint64_t total = 0;
    for (int i = 0; i < nconn; ++i) send_requests(&conns[i], inflight, start);

    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, 100);
        uint64_t t = now_ns();
        if (!measuring && t >= measure_from) {
            measuring = 1;
            memset(hist, 0, HIST_US * sizeof *hist);
            hist_over = 0;
            measured = 0;
            measure_from = t;
            stop_at = t + (uint64_t)(seconds * 1e9);
        }
        if (max_rt ? total >= max_rt : (measuring && t >= stop_at)) break;
        for (int e = 0; e < n; ++e) {
            struct conn *c = events[e].data.ptr;
            ssize_t r = recv(c->fd, inbuf, sizeof inbuf, 0);
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                fprintf(stderr, "loadgen: connection closed by the server\n");
                return 1;
            }
            c->partial += (size_t)r;
            int done = 0;
            while (c->partial >= MSG) {
                c->partial -= MSG;
                uint64_t us = (t - c->ts[c->head]) / 1000;
                c->head = (c->head + 1) % MAXQ;
                if (measuring) {
                    if (us < HIST_US)
                        hist[us]++;
                    else
                        hist_over++;
                    measured++;
                }
                ++done;
            }
            total += (uint64_t)done;
            if (done) send_requests(c, done, t);
            if (c->unsent) flush(c);
        }
    }
    const double elapsed = (double)(now_ns() - measure_from) / 1e9;
    uint64_t p50 = 0, p99 = 0, seen = 0;
    const uint64_t want50 = measured / 2, want99 = measured - measured / 100;
    for (uint64_t us = 0; us < HIST_US; ++us) {
        seen += hist[us];
        if (!p50 && seen >= want50 && want50) p50 = us ? us : 1;
        if (seen >= want99) {
            p99 = us;
            break;
        }
    }
    if (seen < want99) p99 = HIST_US;
    printf("{\"connections\": %d, \"inflight\": %d, \"rt_per_s\": %.0f, \"p50_us\": %llu, \"p99_us\": %llu, "
           "\"measured\": %llu, \"total_round_trips\": %llu, \"seconds\": %.3f}\n",
           nconn, inflight, max_rt ? 0.0 : (double)measured / elapsed, (unsigned long long)p50,
           (unsigned long long)p99, (unsigned long long)measured, (unsigned long long)total, elapsed);
    for (int i = 0; i < nconn; ++i) close(conns[i].fd);
    return 0;
}
