/*
 * epoll_echo: the "bare loop" reference of the ioready benchmarks.
 *
 * A minimal single-threaded, level-triggered epoll echo server: one
 * epoll_wait, then for a readable connection one read() and one write() of
 * what was read. Bytes the socket does not take are kept and sent when the
 * socket is writable (EPOLLOUT is asked for only while bytes are pending, and
 * reading stops meanwhile, so a slow reader cannot make us buffer without
 * bound).
 *
 * Usage: epoll_echo [ADDR:PORT]   (default 127.0.0.1:0; port 0 picks one)
 * Prints "listening on ADDR:PORT" and runs until killed.
 *
 * Build: cc -O2 -o epoll_echo bench/c/epoll_echo.c
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 65536
#define MAX_EVENTS 1024

struct conn {
    char *pending; /* bytes read but not yet written back */
    size_t len;    /* how many */
    size_t off;    /* how many of them already sent */
};

static struct conn *conns;
static size_t nconns;
static char buf[BUF_SIZE];

static void die(const char *what) {
    perror(what);
    exit(1);
}

static struct conn *conn_of(int fd) {
    if ((size_t)fd >= nconns) {
        size_t n = nconns ? nconns : 1024;
        while (n <= (size_t)fd) n *= 2;
        struct conn *c = realloc(conns, n * sizeof *c);
        if (!c) die("realloc");
        memset(c + nconns, 0, (n - nconns) * sizeof *c);
        conns = c;
        nconns = n;
    }
    return &conns[fd];
}

static void close_conn(int ep, int fd) {
    struct conn *c = conn_of(fd);
    free(c->pending);
    memset(c, 0, sizeof *c);
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
}

static int set_events(int ep, int fd, unsigned events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Keeps buf[off..n) to send later and switches the connection to EPOLLOUT. */
static int keep(int ep, int fd, const char *data, size_t n) {
    struct conn *c = conn_of(fd);
    c->pending = malloc(n);
    if (!c->pending) return -1;
    memcpy(c->pending, data, n);
    c->len = n;
    c->off = 0;
    return set_events(ep, fd, EPOLLOUT);
}

static void on_readable(int ep, int fd) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_conn(ep, fd);
        return;
    }
    if (n < 0) return;
    ssize_t w = write(fd, buf, (size_t)n);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            close_conn(ep, fd);
            return;
        }
        w = 0;
    }
    if (w < n && keep(ep, fd, buf + w, (size_t)(n - w)) < 0) close_conn(ep, fd);
}

static void on_writable(int ep, int fd) {
    struct conn *c = conn_of(fd);
    ssize_t w = write(fd, c->pending + c->off, c->len - c->off);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) close_conn(ep, fd);
        return;
    }
    c->off += (size_t)w;
    if (c->off == c->len) {
        free(c->pending);
        c->pending = NULL;
        c->len = c->off = 0;
        if (set_events(ep, fd, EPOLLIN) < 0) close_conn(ep, fd);
    }
}

int main(int argc, char **argv) {
    const char *spec = argc > 1 ? argv[1] : "127.0.0.1:0";
    char host[64];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof host) {
        fprintf(stderr, "usage: %s [IPV4:PORT]\n", argv[0]);
        return 2;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "epoll_echo: bad IPv4 address %s\n", host);
        return 2;
    }

    /* Room for 10,000 connections and more. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(lfd, 4096) < 0) die("listen");
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    char shown[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr.sin_addr, shown, sizeof shown);
    printf("listening on %s:%u\n", shown, ntohs(addr.sin_port));
    fflush(stdout);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl");

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) {
                        if (errno == EMFILE || errno == ENFILE) perror("accept4");
                        break; /* EAGAIN, or an error we come back to */
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0) close(c);
                }
            } else if (events[i].events & EPOLLOUT) {
                on_writable(ep, fd);
            } else if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                on_readable(ep, fd);
            }
        }
    }
}
