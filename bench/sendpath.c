/*
 * bench/sendpath.c — what one send path costs in CPU, per GiB, on this machine.
 *
 *   sendpath [-b BLOCK] [-c CPU] FILE METHOD...
 *
 * Issue 7 asks which way a block read from the disk should reach the socket.
 * The server's figures mix that cost with parsing, the loop and the disk's
 * mood; this program measures only the path.  One thread reads FILE in
 * BLOCK-sized pieces (default 1 MiB) and sends it over a loopback TCP
 * connection to a receiver thread that discards the bytes in the kernel
 * (recv MSG_TRUNC), once per METHOD:
 *
 *   pagecache     sendfile() from the file (warmed first): the `sendfile`
 *                 backend and auto's resident path; the floor
 *   copy          pread() O_DIRECT into a /dev/shm mapping (in huge pages, as
 *                 ferry's pool), send() from it: ferry's async default
 *                 (aio-send = copy)
 *   shm-sendfile  pread() O_DIRECT into the mapping, sendfile() from the
 *                 /dev/shm file, then punch the block out (the socket still
 *                 holds its pages): the seed's way (aio-send = sendfile)
 *   splice        splice() FILE (O_DIRECT) into a pipe, then the pipe into
 *                 the socket: IORING_OP_SPLICE's path, no pool at all
 *
 * Reads are synchronous here on purpose: the async engines change when a
 * read runs, not what it costs.  Printed per method: CPU-seconds of the
 * sending thread per GiB (user+system, getrusage RUSAGE_THREAD; on loopback
 * that includes the receive side's softirq work done in the sender's
 * context, as in the server), and MiB/s for information.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct path {
    int sock;        /* connected to the receiver */
    int file;        /* buffered descriptor */
    int direct;      /* O_DIRECT descriptor */
    off_t size;      /* bytes sent per method: the file, block-aligned */
    size_t block;
    int shm;         /* the /dev/shm file and its mapping */
    char *map;
    int pipe[2];
};

static void die(const char *what)
{
    fprintf(stderr, "sendpath: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *receive(void *arg)
{
    int fd = *(int *)arg;
    pin(1);
    for (;;) {
        ssize_t n = recv(fd, NULL, 1L << 30, MSG_TRUNC);
        if (n <= 0)
            break;
    }
    return NULL;
}

/* A loopback connection: *tx sends, *rx is handed to the receiver thread. */
static void connect_pair(int *tx, int *rx)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&addr, &len) < 0)
        die("listen");
    *tx = socket(AF_INET, SOCK_STREAM, 0);
    if (*tx < 0 || connect(*tx, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("connect");
    *rx = accept(l, NULL, NULL);
    if (*rx < 0)
        die("accept");
    close(l);
}

static void send_all(int sock, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(sock, p, n, 0);
        if (w < 0)
            die("send");
        p += w;
        n -= (size_t)w;
    }
}

static void sendfile_all(int sock, int fd, off_t off, size_t n)
{
    while (n > 0) {
        ssize_t w = sendfile(sock, fd, &off, n);
        if (w <= 0)
            die("sendfile");
        n -= (size_t)w;
    }
}

static void read_block(struct path *p, off_t off)
{
    if (pread(p->direct, p->map, p->block, off) != (ssize_t)p->block)
        die("pread O_DIRECT");
}

static void via_pagecache(struct path *p, off_t off)
{
    sendfile_all(p->sock, p->file, off, p->block);
}

static void via_copy(struct path *p, off_t off)
{
    read_block(p, off);
    send_all(p->sock, p->map, p->block);
}

static void via_shm_sendfile(struct path *p, off_t off)
{
    read_block(p, off);
    sendfile_all(p->sock, p->shm, 0, p->block);
    if (fallocate(p->shm, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)p->block) < 0)
        die("punch");
}

static void via_splice(struct path *p, off_t off)
{
    size_t left = p->block;
    while (left > 0) {
        ssize_t in = splice(p->direct, &off, p->pipe[1], NULL, left, SPLICE_F_MOVE);
        if (in <= 0)
            die("splice file -> pipe");
        for (ssize_t out = 0; out < in;) {
            ssize_t w = splice(p->pipe[0], NULL, p->sock, NULL, (size_t)(in - out), SPLICE_F_MOVE);
            if (w <= 0)
                die("splice pipe -> socket");
            out += w;
        }
        left -= (size_t)in;
    }
}

static const struct method {
    const char *name;
    void (*send_block)(struct path *p, off_t off);
} methods[] = {
    {"pagecache", via_pagecache},
    {"copy", via_copy},
    {"shm-sendfile", via_shm_sendfile},
    {"splice", via_splice},
};

static double thread_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void warm(struct path *p)
{
    for (off_t off = 0; off < p->size; off += (off_t)p->block)
        if (pread(p->file, p->map, p->block, off) < 0)
            die("pread");
}

static void run(struct path *p, const struct method *m)
{
    int rx;
    pthread_t receiver;
    connect_pair(&p->sock, &rx);
    if (pthread_create(&receiver, NULL, receive, &rx) != 0)
        die("pthread_create");
    if (m->send_block == via_pagecache)
        warm(p);
    double cpu0 = thread_cpu_s(), t0 = now_s();
    for (off_t off = 0; off < p->size; off += (off_t)p->block)
        m->send_block(p, off);
    double cpu = thread_cpu_s() - cpu0, wall = now_s() - t0;
    shutdown(p->sock, SHUT_WR);
    pthread_join(receiver, NULL);
    close(p->sock);
    close(rx);
    double gib = (double)p->size / (1 << 30);
    printf("%-13s %6.3f CPU-s/GiB  %7.0f MiB/s\n", m->name, cpu / gib, gib * 1024 / wall);
}

/* The buffer as ferry maps its pool: 2 MiB-aligned, collapsed into huge
 * pages (best effort; shm-sendfile's punching gives it small pages again). */
static char *map_pool(int fd, size_t len)
{
    size_t huge = 2u << 20;
    char *area = mmap(NULL, len + huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        die("mmap");
    char *base = (char *)(((uintptr_t)area + huge - 1) & ~(uintptr_t)(huge - 1));
    if (mmap(base, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
        die("mmap");
    madvise(base, len, MADV_HUGEPAGE);
    madvise(base, len, 25 /* MADV_COLLAPSE */);
    return base;
}

static void setup(struct path *p, const char *file)
{
    struct stat st;
    p->file = open(file, O_RDONLY);
    p->direct = open(file, O_RDONLY | O_DIRECT);
    if (p->file < 0 || p->direct < 0 || fstat(p->file, &st) < 0)
        die(file);
    p->size = st.st_size / (off_t)p->block * (off_t)p->block;
    if (p->size == 0) {
        fprintf(stderr, "sendpath: %s is smaller than one block\n", file);
        exit(2);
    }
    char name[] = "/dev/shm/sendpath-XXXXXX";
    p->shm = mkstemp(name);
    if (p->shm < 0)
        die("mkstemp /dev/shm");
    unlink(name);
    size_t pool = (p->block + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1); /* whole huge pages */
    if (ftruncate(p->shm, (off_t)pool) < 0)
        die("ftruncate");
    p->map = map_pool(p->shm, pool);
    if (pipe(p->pipe) < 0)
        die("pipe");
    fcntl(p->pipe[1], F_SETPIPE_SZ, (int)p->block); /* best effort: pipe-max-size may be lower */
}

int main(int argc, char **argv)
{
    struct path p = {.block = 1 << 20};
    int opt, cpu = 0;
    while ((opt = getopt(argc, argv, "b:c:")) != -1) {
        if (opt == 'b')
            p.block = (size_t)strtoul(optarg, NULL, 0);
        else if (opt == 'c')
            cpu = atoi(optarg);
        else
            goto usage;
    }
    if (argc - optind < 2 || p.block == 0 || p.block % 4096)
        goto usage;
    pin(cpu);
    setup(&p, argv[optind]);
    for (int i = optind + 1; i < argc; i++) {
        const struct method *m = NULL;
        for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++)
            if (strcmp(argv[i], methods[k].name) == 0)
                m = &methods[k];
        if (!m)
            goto usage;
        run(&p, m);
    }
    return 0;
usage:
    fprintf(stderr, "usage: sendpath [-b BLOCK] [-c CPU] FILE pagecache|copy|shm-sendfile|splice...\n");
    return 2;
}
