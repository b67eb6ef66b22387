/* Unit tests of how a buffer pool is fitted to its tmpfs
 * (fy_shm_pool_fit, src/backend/shm_pool.c). */
#include "check.h"

#include "backend/shm_pool.h"

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

int main(void)
{
    RUN(test_fit_takes_what_is_asked_where_there_is_room);
    RUN(test_fit_shares_a_small_tmpfs_between_workers);
    RUN(test_fit_leaves_headroom_of_what_is_free);
    RUN(test_fit_may_be_nothing);
    return CHECK_SUMMARY();
}
