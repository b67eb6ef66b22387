/* Comparing secrets (password hashes, credential digests): the time taken
 * depends on the length only, never on where the first difference is, so
 * a client timing its answers learns nothing about the bytes it did not
 * guess. */
#ifndef FY_CONST_TIME_H
#define FY_CONST_TIME_H

#include <stdbool.h>
#include <stddef.h>

static inline bool fy_const_time_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}

#endif
