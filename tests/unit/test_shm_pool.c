/* Unit tests of how a buffer pool is fitted to its tmpfs (fy_shm_pool_fit),
 * and of how its memory follows the blocks out: space taken an extent at a
 * time, reused most recently freed first, given back when idle, and a full
 * tmpfs met by waiting (src/backend/shm_pool.c). */
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include "backend/shm_pool.h"

/* How many of the pool's extents have their space taken. */
static unsigned reserved_extents(const struct fy_shm_pool *p)
{
    unsigned n = 0;
    for (unsigned e = 0; e < p->nextents; e++)
        n += p->extents[e].reserved;
    return n;
}

#define MiB (1ull << 20)

static void test_fit_takes_what_is_asked_where_there_is_room(void)
{
    struct fy_shm_pool_room room = {.size = 24ull << 30, .avail = 24ull << 30};
    CHECK_INT(fy_shm_pool_fit(&room, MiB, 64, 2, false), 64);
    CHECK_INT(fy_shm_pool_fit(&room, MiB, 64, 256, false), 64);
}

static void test_fit_shares_a_small_tmpfs_between_workers(void)
{
    /* Docker's /dev/shm: 64 MiB for the container; three quarters shared */
    struct fy_shm_pool_room room = {.size = 64 * MiB, .avail = 64 * MiB};
    CHECK_INT(fy_shm_pool_fit(&room, MiB, 64, 1, false), 48);
    CHECK_INT(fy_shm_pool_fit(&room, MiB, 64, 2, false), 24);
    room.avail = 40 * MiB; /* the first worker took its 24 */
    CHECK_INT(fy_shm_pool_fit(&room, MiB, 64, 2, false), 24);
    CHECK_INT(fy_shm_pool_fit(&room, 2 * MiB, 64, 2, false), 12);
    CHECK_INT(fy_shm_pool_fit(&room, 64 << 10, 64, 2, false), 64);
}

static void test_fit_leaves_headroom_of_what_is_free(void)
{
    struct fy_shm_pool_room room = {.size = 64 * MiB, .avail = 8 * MiB};
    CHECK_INT(fy_shm_pool_fit(&room, MiB, 64, 2, false), 6);
    /* a reload: the old workers give their space back, the part counts */
    CHECK_INT(fy_shm_pool_fit(&room, MiB, 64, 2, true), 24);
}

static void test_fit_may_be_nothing(void)
{
    struct fy_shm_pool_room room = {.size = 64 << 10, .avail = 64 << 10};
    CHECK_INT(fy_shm_pool_fit(&room, MiB, 64, 1, false), 0);
    struct fy_shm_pool_room full = {.size = 64 * MiB, .avail = 0};
    CHECK_INT(fy_shm_pool_fit(&full, MiB, 64, 1, false), 0);
    CHECK_INT(fy_shm_pool_fit(&full, MiB, 64, 0, true), 48); /* 0 sharers: one */
}

/* --- memory that follows the blocks out ---------------------------------- */

static int get_ok(struct fy_shm_pool *p)
{
    int b = fy_shm_pool_get(p);
    CHECK(b >= 0);
    return b;
}

static void init_ok(struct fy_shm_pool *p, const char *dir, size_t block, unsigned n, bool punch)
{
    char err[256] = "";
    int rc = fy_shm_pool_init(p, dir, block, n, punch, err, sizeof err);
    if (rc != 0)
        printf("  %s\n", err);
    CHECK_INT(rc, 0);
}

static void test_only_the_first_extent_is_taken_at_start(void)
{
    struct fy_shm_pool p;
    init_ok(&p, "/dev/shm", MiB, 64, false);
    CHECK_INT(p.extent_size, 2 * MiB); /* a huge page: two blocks */
    CHECK_INT(p.nextents, 32);
    CHECK_INT(reserved_extents(&p), 1);
    CHECK_INT(fy_shm_pool_resident(&p), 2 * MiB);
    CHECK_INT(p.nfree, 64);
    CHECK(fy_shm_pool_may_get(&p));
    fy_shm_pool_free(&p);
}

static void test_space_is_taken_when_a_block_of_an_extent_goes_out(void)
{
    struct fy_shm_pool p;
    init_ok(&p, "/dev/shm", MiB, 16, false);
    CHECK_INT(get_ok(&p), 0);
    CHECK_INT(get_ok(&p), 1);
    CHECK_INT(fy_shm_pool_resident(&p), 2 * MiB);
    int b = get_ok(&p); /* the first extent is out: the next one gets its space */
    CHECK_INT(fy_shm_pool_extent(&p, (unsigned)b), 1);
    CHECK_INT(reserved_extents(&p), 2);
    CHECK_INT(fy_shm_pool_resident(&p), 4 * MiB);
    /* the block is usable memory, its space taken: no SIGBUS */
    memset(fy_shm_pool_addr(&p, (unsigned)b), 0xab, p.block_size);
    CHECK_INT(fy_shm_pool_resident(&p), 4 * MiB);
    CHECK_INT(p.nfree, 13);
    fy_shm_pool_free(&p);
}

static void test_the_most_recently_freed_block_of_an_extent_with_space_goes_first(void)
{
    struct fy_shm_pool p;
    init_ok(&p, "/dev/shm", MiB, 16, false);
    int b[4];
    for (int i = 0; i < 4; i++)
        b[i] = get_ok(&p); /* extents 0 and 1 */
    fy_shm_pool_put(&p, (unsigned)b[3], 0);
    fy_shm_pool_put(&p, (unsigned)b[0], 0);
    CHECK_INT(fy_shm_pool_get(&p), b[0]);
    CHECK_INT(fy_shm_pool_get(&p), b[3]);
    CHECK_INT(reserved_extents(&p), 2); /* no third extent while these were free */
    /* a steady load of two blocks out keeps using the same two extents */
    for (int round = 0; round < 50; round++) {
        fy_shm_pool_put(&p, (unsigned)b[round % 4], round);
        b[round % 4] = get_ok(&p);
    }
    CHECK_INT(reserved_extents(&p), 2);
    CHECK_INT(fy_shm_pool_resident(&p), 4 * MiB);
    fy_shm_pool_free(&p);
}

static void test_trim_gives_back_only_extents_idle_long_enough(void)
{
    struct fy_shm_pool p;
    init_ok(&p, "/dev/shm", MiB, 16, false);
    int b[6];
    for (int i = 0; i < 6; i++)
        b[i] = get_ok(&p); /* extents 0, 1, 2 */
    CHECK_INT(fy_shm_pool_resident(&p), 6 * MiB);
    memset(fy_shm_pool_addr(&p, (unsigned)b[5]), 0x5a, p.block_size);
    fy_shm_pool_put(&p, (unsigned)b[0], 1000); /* extent 0: all free, but kept */
    fy_shm_pool_put(&p, (unsigned)b[1], 1000);
    fy_shm_pool_put(&p, (unsigned)b[2], 1000); /* extent 1: all free at 1500 */
    fy_shm_pool_put(&p, (unsigned)b[3], 1500);
    fy_shm_pool_put(&p, (unsigned)b[4], 1000); /* extent 2: one block still out */
    CHECK_INT(p.nidle, 1);
    CHECK_INT(fy_shm_pool_trim(&p, 3000, 2000), 1); /* not yet: idle 1.5 s */
    CHECK_INT(fy_shm_pool_resident(&p), 6 * MiB);
    CHECK_INT(fy_shm_pool_trim(&p, 3500, 2000), 0);
    CHECK_INT(reserved_extents(&p), 2);
    CHECK_INT(fy_shm_pool_resident(&p), 4 * MiB);
    /* the block still out kept its bytes */
    const unsigned char *bytes = (const unsigned char *)fy_shm_pool_addr(&p, (unsigned)b[5]);
    CHECK(bytes[0] == 0x5a && bytes[p.block_size - 1] == 0x5a);
    /* blocks of extents with space first, the most recently freed first */
    CHECK_INT(get_ok(&p), b[4]);
    CHECK_INT(get_ok(&p), b[1]);
    CHECK_INT(get_ok(&p), b[0]);
    CHECK_INT(reserved_extents(&p), 2);
    CHECK_INT(fy_shm_pool_extent(&p, (unsigned)get_ok(&p)), 1); /* then extent 1 gets space again */
    CHECK_INT(reserved_extents(&p), 3);
    fy_shm_pool_free(&p);
}

static unsigned watched_reserved, watched_released, last_released;

static void on_reserved(void *ctx, unsigned extent)
{
    (void)ctx, (void)extent;
    watched_reserved++;
}

static void on_releasing(void *ctx, unsigned extent)
{
    (void)ctx;
    watched_released++;
    last_released = extent;
}

static void test_the_watcher_hears_of_space_taken_and_given_back(void)
{
    struct fy_shm_pool p;
    init_ok(&p, "/dev/shm", 4 * MiB, 4, false);
    CHECK_INT(p.per_extent, 1); /* a block of huge pages is its own extent */
    p.watch = (struct fy_shm_pool_watch){on_reserved, on_releasing, NULL};
    watched_reserved = watched_released = 0;
    int a = get_ok(&p), b = get_ok(&p);
    CHECK_INT(watched_reserved, 1);
    fy_shm_pool_put(&p, (unsigned)b, 0);
    fy_shm_pool_put(&p, (unsigned)a, 0);
    CHECK_INT(fy_shm_pool_trim(&p, 5000, 2000), 0);
    CHECK_INT(watched_released, 1);
    CHECK_INT(last_released, 1);
    CHECK_INT(fy_shm_pool_resident(&p), 4 * MiB);
    fy_shm_pool_free(&p);
}

static void test_odd_blocks_never_straddle_extents(void)
{
    struct fy_shm_pool p;
    init_ok(&p, "/dev/shm", 768 << 10, 10, false);
    CHECK_INT(p.per_extent, 3);
    CHECK_INT(p.nextents, 4);
    CHECK_INT(fy_shm_pool_extent_len(&p, 3), 768 << 10);
    CHECK_INT(fy_shm_pool_resident(&p), 3 * (768 << 10));
    for (int i = 0; i < 10; i++)
        get_ok(&p);
    CHECK_INT(fy_shm_pool_get(&p), -1);
    CHECK_INT(fy_shm_pool_resident(&p), 10 * (768 << 10)); /* bounded: never more than the pool */
    fy_shm_pool_free(&p);
}

static void test_sendfile_buffers_get_fresh_pages_in_their_extent(void)
{
    struct fy_shm_pool p;
    init_ok(&p, "/dev/shm", 2 * MiB, 4, true);
    int b = get_ok(&p);
    memset(fy_shm_pool_addr(&p, (unsigned)b), 0x77, p.block_size);
    fy_shm_pool_put(&p, (unsigned)b, 0);
    CHECK(fy_shm_pool_addr(&p, (unsigned)b)[0] == 0); /* punched, and its space taken again */
    CHECK_INT(fy_shm_pool_resident(&p), 2 * MiB);
    CHECK_INT(reserved_extents(&p), 1);
    fy_shm_pool_free(&p);
}

/* A tmpfs of 4 MiB: room for two extents, not three.  Needs root (mount);
 * the integration tests mount small ones the same way. */
static void test_a_full_tmpfs_makes_the_pool_wait_not_fail(void)
{
    char dir[] = "/tmp/ferry-pool-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    if (mount("tmpfs", dir, "tmpfs", 0, "size=4m") != 0) {
        printf("  (not run: mounting a tmpfs: %s)\n", strerror(errno));
        rmdir(dir);
        CHECK(errno == EPERM);
        return;
    }
    struct fy_shm_pool p;
    init_ok(&p, dir, MiB, 8, false); /* 8 MiB in a 4 MiB tmpfs: the file is a hole */
    int b[4];
    for (int i = 0; i < 4; i++)
        b[i] = get_ok(&p);
    CHECK_INT(fy_shm_pool_get(&p), -1); /* no room for a third extent */
    CHECK(p.short_of_space);
    CHECK(!fy_shm_pool_may_get(&p));
    CHECK_INT(p.nfree, 4);
    fy_shm_pool_put(&p, (unsigned)b[2], 0); /* a block with space comes back: it goes out */
    CHECK(fy_shm_pool_may_get(&p));
    CHECK_INT(fy_shm_pool_get(&p), b[2]);
    fy_shm_pool_try_again(&p);
    CHECK(fy_shm_pool_may_get(&p));
    CHECK_INT(fy_shm_pool_get(&p), -1); /* still full */
    for (int i = 0; i < 4; i++)
        memset(fy_shm_pool_addr(&p, (unsigned)b[i]), 1, p.block_size); /* all of them usable */
    fy_shm_pool_free(&p);
    /* not even the first extent: refused at start */
    struct fy_shm_pool q;
    char err[256] = "";
    CHECK_INT(fy_shm_pool_init(&q, dir, 8 * MiB, 2, false, err, sizeof err), -ENOSPC);
    CHECK(strstr(err, "cannot reserve 8 MiB") != NULL);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
}

int main(void)
{
    RUN(test_fit_takes_what_is_asked_where_there_is_room);
    RUN(test_fit_shares_a_small_tmpfs_between_workers);
    RUN(test_fit_leaves_headroom_of_what_is_free);
    RUN(test_fit_may_be_nothing);
    RUN(test_only_the_first_extent_is_taken_at_start);
    RUN(test_space_is_taken_when_a_block_of_an_extent_goes_out);
    RUN(test_the_most_recently_freed_block_of_an_extent_with_space_goes_first);
    RUN(test_trim_gives_back_only_extents_idle_long_enough);
    RUN(test_the_watcher_hears_of_space_taken_and_given_back);
    RUN(test_odd_blocks_never_straddle_extents);
    RUN(test_sendfile_buffers_get_fresh_pages_in_their_extent);
    RUN(test_a_full_tmpfs_makes_the_pool_wait_not_fail);
    return CHECK_SUMMARY();
}
