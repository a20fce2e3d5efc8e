/* bench/echo/epoll_echo_server.c — the baseline: a raw epoll echo server in
 * C, one thread, level-triggered, one read and one write per readiness event
 * (what a runtime cannot beat).
 *
 *   epoll_echo_server PORT     (prints "READY port" when listening; 0 = any)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    int fd;
    char *pending; /* unsent echo bytes (rare) */
    size_t npending;
};

static char buf[1 << 16];

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1024) < 0) {
        perror("bind/listen");
        return 1;
    }
    socklen_t len = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &len);
    printf("READY %d\n", ntohs(a.sin_port));
    fflush(stdout);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; ++i) {
            struct conn *c = events[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    struct epoll_event e2 = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e2);
                }
                continue;
            }
            if (events[i].events & EPOLLOUT) {
                ssize_t w = send(c->fd, c->pending, c->npending, MSG_NOSIGNAL);
                if (w > 0) {
                    memmove(c->pending, c->pending + w, c->npending - (size_t)w);
                    c->npending -= (size_t)w;
                }
                if (c->npending == 0) {
                    struct epoll_event e2 = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e2);
                }
                continue;
            }
            ssize_t r = recv(c->fd, buf, sizeof buf, 0);
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                close(c->fd);
                free(c->pending);
                free(c);
                continue;
            }
            ssize_t w = c->npending ? 0 : send(c->fd, buf, (size_t)r, MSG_NOSIGNAL);
            if (w < 0) w = 0;
            if (w < r) { /* keep the rest, wait for writability */
                c->pending = realloc(c->pending, c->npending + (size_t)(r - w));
                memcpy(c->pending + c->npending, buf + w, (size_t)(r - w));
                c->npending += (size_t)(r - w);
                struct epoll_event e2 = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e2);
            }
        }
    }
}
