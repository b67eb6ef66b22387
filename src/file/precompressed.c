/* Precompressed siblings; see precompressed.h. */
#include "file/precompressed.h"

#include <stdio.h>
#include <sys/stat.h>

#include "http/accept_encoding.h"

struct coding {
    const char *name;            /* as in Accept-Encoding and Content-Encoding */
    const char *suffix;
};

static const struct coding br = {"br", ".br"}, gz = {"gzip", ".gz"};

static int open_sibling(const struct fy_docroot *root, const struct fy_path *file, const struct fy_file *orig,
                        const struct coding *cd, int64_t now_ms, struct fy_file *out)
{
    struct fy_path p = {.trailing_slash = false};
    int n = orig->index_name
                ? snprintf(p.name, sizeof p.name, "%s%s%s%s", file->name, file->len ? "/" : "", orig->index_name,
                           cd->suffix)
                : snprintf(p.name, sizeof p.name, "%s%s", file->name, cd->suffix);
    if (n < 0 || (size_t)n >= sizeof p.name)
        return -1;
    p.len = (size_t)n;
    if (fy_file_open(root, &p, now_ms, out) != 0)
        return -1;
    if (!S_ISREG(out->st.st_mode)) {
        fy_file_close(out);
        return -1;
    }
    return 0;
}

const char *fy_precompressed_open(const struct fy_docroot *root, const struct fy_path *file,
                                  const struct fy_file *orig, struct fy_field_lines accept_encoding,
                                  int64_t now_ms, struct fy_file *out)
{
    unsigned qbr = fy_accept_encoding_q(accept_encoding, br.name);
    unsigned qgz = fy_accept_encoding_q(accept_encoding, gz.name);
    const struct coding *order[2] = {&br, &gz};
    if (qgz > qbr)
        order[0] = &gz, order[1] = &br;
    for (int i = 0; i < 2; i++) {
        if ((order[i] == &br ? qbr : qgz) == 0)
            continue;
        if (open_sibling(root, file, orig, order[i], now_ms, out) == 0)
            return order[i]->name;
    }
    return NULL;
}
