/*
 * A slower disk, for bench/ingest.java --flush-ms: loaded with LD_PRELOAD, every fsync and
 * fdatasync of the process waits SLOW_FLUSH_US microseconds more after the real one returns.
 * This machine's disk flushes in ~0.25 ms; a consumer SSD takes 1-5 ms, a USB stick or a
 * spinning disk 10 ms and more, and the kit flushes every file it adds to the archive.
 * Built by the bench with the system's C compiler (gcc -shared -fPIC ... -ldl).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void wait_more(void) {
    const char *v = getenv("SLOW_FLUSH_US");
    long us = v ? atol(v) : 0;
    if (us <= 0) return;
    struct timespec t = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&t, &t) != 0) {}
}

/* The real call (looked up once, into *real), then the wait. */
static int slower(int (**real)(int), const char *name, int fd) {
    if (!*real) *real = (int (*)(int)) dlsym(RTLD_NEXT, name);
    int r = (*real)(fd);
    wait_more();
    return r;
}

int fsync(int fd) {
    static int (*real)(int);
    return slower(&real, "fsync", fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    return slower(&real, "fdatasync", fd);
}
