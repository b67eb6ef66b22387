/* The status endpoint; see status.h. */
#include "core/status.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/server.h"
#include "core/stats.h"
#include "core/version.h"
#include "request/exchange.h"
#include "http/http_response.h"

#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef unsigned long long ull;

/* --- who may ask ------------------------------------------------------------ */

bool fy_status_allowed(const struct fy_config *cfg, const struct sockaddr_storage *peer)
{
    return fy_acl_allows(cfg->status_allow, cfg->nstatus_allow, peer);
}

bool fy_status_wants(const struct fy_exchange *ex)
{
    const char *path = ex->srv->cfg.status_path;
    size_t len = strlen(path);
    return len > 0 && ex->req.path.len == len && memcmp(ex->req.path.p, path, len) == 0;
}

/* --- a growing text --------------------------------------------------------- */

struct text {
    char *p;
    size_t len, cap;
    bool failed;
};

__attribute__((format(printf, 2, 3)))
static void put(struct text *t, const char *fmt, ...)
{
    for (int round = 0; round < 2 && !t->failed; round++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if (t->p && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap ? t->cap * 2 : 8192) + (size_t)n;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

/* --- what a page shows ------------------------------------------------------ */

struct view {
    struct fy_stats_shm *shm;
    struct fy_stats_total t;
    const char *backend;
    const char *engine;     /* what every process's backend runs on, or "mixed" */
    ull uptime;
};

static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

static ull shm_get(_Atomic uint64_t *v)
{
    return (ull)fy_stats_get(v);
}

static ull sum_classes(const uint64_t *first)
{
    ull n = 0;
    for (int i = 0; i < 5; i++)
        n += first[i];
    return n;
}

/* The engine whose gauge is set (one process's, or the sum of all): its
 * name if it is the only one, "mixed" if not (workers whose pools did not
 * all fit), "none" before any process said. */
static const char *engine_of(const uint64_t *gauges)
{
    const char *name = "none";
    for (int e = 0; e < FY_NENGINES; e++) {
        if (!gauges[FY_G_ENGINE + e])
            continue;
        if (strcmp(name, "none") != 0)
            return "mixed";
        name = fy_engine_name((enum fy_engine)e);
    }
    return name;
}

/* --- JSON ------------------------------------------------------------------- */

static void json_classes(struct text *o, const char *name, const uint64_t *first)
{
    put(o, "  \"%s\": {\"total\": %llu", name, sum_classes(first));
    for (int i = 0; i < 5; i++)
        put(o, ", \"%s\": %llu", classes[i], (ull)first[i]);
    put(o, "},\n");
}

static void json_processes(struct text *o, struct fy_stats_shm *shm)
{
    const char *sep = "";
    put(o, "  \"processes\": [");
    for (int i = 0; i < FY_STATS_SLOTS; i++) {
        struct fy_stats_slot *s = &shm->slot[i];
        ull pid = shm_get(&s->pid), req = 0;
        if (pid <= 1)
            continue;
        for (int k = 0; k < 5; k++)
            req += shm_get(&s->counter[FY_C_REQ_1XX + k]);
        uint64_t gauges[FY_NGAUGES];
        for (int g = 0; g < FY_NGAUGES; g++)
            gauges[g] = shm_get(&s->gauge[g]);
        put(o, "%s\n    {\"pid\": %llu, \"generation\": %llu, \"connections\": %llu, \"accepted\": %llu, "
            "\"requests\": %llu, \"engine\": \"%s\"}", sep, pid, shm_get(&s->generation), (ull)gauges[FY_G_ACTIVE],
            shm_get(&s->counter[FY_C_ACCEPTED]), req, engine_of(gauges));
        sep = ",";
    }
    put(o, "\n  ]\n");
}

/* What the site features of the handler did (file/fallback.c, ...). */
static const struct {
    const char *json, *prom, *help;
    enum fy_counter c;
} site_counters[] = {
    {"fallbacks", "fallback_responses_total", "Requests for missing files answered with the fallback file.",
     FY_C_FALLBACKS},
    {"redirects", "redirects_total", "Requests answered by a redirect or redirect-host of the configuration.",
     FY_C_REDIRECTS},
    {"denied", "access_denied_total", "Requests refused with 403 by allow, deny or status-allow.", FY_C_DENIED},
    {"compressed", "compressed_responses_total", "Responses sent from a copy compressed by ferry (compress).",
     FY_C_COMPRESSED},
    {"compressions", "compressions_total", "Compressed copies made by the helper threads.", FY_C_COMPRESSIONS},
};

#define NSITE_COUNTERS (sizeof site_counters / sizeof site_counters[0])

static void json_site(struct text *o, const uint64_t *c)
{
    put(o, "  \"site\": {");
    for (size_t i = 0; i < NSITE_COUNTERS; i++)
        put(o, "%s\"%s\": %llu", i ? ", " : "", site_counters[i].json, (ull)c[site_counters[i].c]);
    put(o, "},\n");
}

static void render_json(struct text *o, const struct view *v)
{
    const uint64_t *c = v->t.counter, *g = v->t.gauge;
    struct fy_stats_shm *shm = v->shm;
    put(o, "{\n  \"version\": \"%s\",\n  \"pid\": %llu,\n  \"uptime_seconds\": %llu,\n", FY_VERSION,
        shm_get(&shm->pid), v->uptime);
    put(o, "  \"generation\": %llu,\n  \"reloads\": %llu,\n  \"respawns\": %llu,\n", shm_get(&shm->generation),
        shm_get(&shm->reloads), shm_get(&shm->respawns));
    put(o, "  \"workers\": {\"configured\": %llu, \"processes\": %u},\n", shm_get(&shm->workers),
        v->t.processes);
    put(o, "  \"connections\": {\"active\": %llu, \"reading\": %llu, \"writing\": %llu, \"idle\": %llu, "
        "\"accepted\": %llu, \"refused\": %llu, \"refused_per_ip\": %llu},\n", (ull)g[FY_G_ACTIVE],
        (ull)g[FY_G_READING], (ull)g[FY_G_WRITING], (ull)g[FY_G_IDLE], (ull)c[FY_C_ACCEPTED], (ull)c[FY_C_REFUSED],
        (ull)c[FY_C_REFUSED_PER_IP]);
    json_classes(o, "requests", c + FY_C_REQ_1XX);
    json_classes(o, "bytes", c + FY_C_BYTES_1XX);
    json_site(o, c);
    put(o, "  \"backend\": {\"name\": \"%s\", \"engine\": \"%s\", \"engines\": {", v->backend, v->engine);
    for (int e = 0; e < FY_NENGINES; e++)
        put(o, "%s\"%s\": %llu", e ? ", " : "", fy_engine_name((enum fy_engine)e), (ull)g[FY_G_ENGINE + e]);
    put(o, "}, \"reads_submitted\": %llu, \"reads_completed\": %llu, "
        "\"reads_in_flight\": %llu, \"queue_length\": %llu, \"cache_hit_blocks\": %llu, \"fallbacks\": %llu, "
        "\"short_reads\": %llu, \"read_errors\": %llu, \"bytes_read\": %llu, \"lookups\": %llu},\n",
        (ull)c[FY_C_READS_SUBMITTED], (ull)c[FY_C_READS_COMPLETED], (ull)g[FY_G_READS_IN_FLIGHT],
        (ull)g[FY_G_QUEUED], (ull)c[FY_C_CACHED_BLOCKS], (ull)c[FY_C_PLAIN_FILES], (ull)c[FY_C_SHORT_READS],
        (ull)c[FY_C_READ_ERRORS], (ull)c[FY_C_BYTES_READ], (ull)c[FY_C_LOOKUPS]);
    put(o, "  \"buffer_pool\": {\"buffers\": %llu, \"in_use\": %llu, \"free\": %llu, \"buffer_size\": %llu, "
        "\"resident_bytes\": %llu},\n", (ull)g[FY_G_POOL_BUFFERS], (ull)(g[FY_G_POOL_BUFFERS] - g[FY_G_POOL_FREE]),
        (ull)g[FY_G_POOL_FREE], (ull)g[FY_G_BUFFER_SIZE], (ull)g[FY_G_POOL_RESIDENT]);
    put(o, "  \"request_buffers\": {\"in_use\": %llu, \"free\": %llu, \"bytes\": %llu},\n",
        (ull)(g[FY_G_REQ_BUFFERS] - g[FY_G_REQ_BUFFERS_FREE]), (ull)g[FY_G_REQ_BUFFERS_FREE],
        (ull)g[FY_G_REQ_BUFFER_BYTES]);
    put(o, "  \"body_cache\": {\"entries\": %llu, \"bytes\": %llu, \"hits\": %llu, \"fills\": %llu, "
        "\"evictions\": %llu},\n", (ull)g[FY_G_BODY_ENTRIES], (ull)g[FY_G_BODY_BYTES], (ull)c[FY_C_BODY_HITS],
        (ull)c[FY_C_BODY_FILLS], (ull)c[FY_C_BODY_EVICTIONS]);
    put(o, "  \"tls\": {\"handshakes\": %llu, \"resumptions\": %llu, \"ktls_send\": %llu, \"failures\": "
        "{\"timeout\": %llu, \"protocol\": %llu, \"plain_http\": %llu, \"closed\": %llu}},\n",
        (ull)c[FY_C_TLS_HANDSHAKES], (ull)c[FY_C_TLS_RESUMED], (ull)c[FY_C_TLS_KTLS], (ull)c[FY_C_TLS_FAIL_TIMEOUT],
        (ull)c[FY_C_TLS_FAIL_PROTOCOL], (ull)c[FY_C_TLS_FAIL_PLAIN_HTTP], (ull)c[FY_C_TLS_FAIL_CLOSED]);
    put(o, "  \"http2\": {\"connections\": %llu, \"streams\": %llu, \"resets_received\": %llu, "
        "\"resets_sent\": %llu, \"goaways\": %llu, \"floods\": %llu, \"stalls\": %llu, \"protocol_errors\": %llu},\n",
        (ull)c[FY_C_H2_CONNECTIONS], (ull)c[FY_C_H2_STREAMS], (ull)c[FY_C_H2_RESETS_RECEIVED],
        (ull)c[FY_C_H2_RESETS_SENT], (ull)c[FY_C_H2_GOAWAYS], (ull)c[FY_C_H2_FLOODS], (ull)c[FY_C_H2_STALLS],
        (ull)c[FY_C_H2_PROTOCOL_ERRORS]);
    put(o, "  \"auth\": {\"checks\": %llu, \"checks_waiting\": %llu, \"cache_hits\": %llu, \"refused\": %llu, "
        "\"busy\": %llu},\n", (ull)c[FY_C_AUTH_CHECKS], (ull)g[FY_G_AUTH_WAITING], (ull)c[FY_C_AUTH_CACHE_HITS],
        (ull)c[FY_C_AUTH_REFUSED], (ull)c[FY_C_AUTH_BUSY]);
    put(o, "  \"digests\": {\"entries\": %llu, \"pending\": %llu, \"hashed\": %llu, \"bytes_hashed\": %llu, "
        "\"from_xattr\": %llu, \"xattr_stored\": %llu, \"changed\": %llu, \"failed\": %llu, \"evicted\": %llu},\n",
        (ull)g[FY_G_DIGEST_ENTRIES], (ull)g[FY_G_DIGESTS_PENDING], (ull)c[FY_C_DIGESTS_HASHED],
        (ull)c[FY_C_DIGEST_BYTES], (ull)c[FY_C_DIGESTS_FROM_XATTR], (ull)c[FY_C_DIGESTS_XATTR_STORED],
        (ull)c[FY_C_DIGESTS_CHANGED], (ull)c[FY_C_DIGESTS_FAILED], (ull)c[FY_C_DIGESTS_EVICTED]);
    json_processes(o, shm);
    put(o, "}\n");
}

/* --- Prometheus ------------------------------------------------------------- */

static void family(struct text *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP ferry_%s %s\n# TYPE ferry_%s %s\n", name, help, name, type);
}

static void metric(struct text *o, const char *name, const char *type, const char *help, ull value)
{
    family(o, name, type, help);
    put(o, "ferry_%s %llu\n", name, value);
}

static void prom_classes(struct text *o, const char *name, const char *help, const uint64_t *first)
{
    family(o, name, "counter", help);
    for (int i = 0; i < 5; i++)
        put(o, "ferry_%s{class=\"%s\"} %llu\n", name, classes[i], (ull)first[i]);
}

/* A counter as a Prometheus metric of its own. */
struct prom_counter {
    const char *name, *help;
    enum fy_counter c;
};

static void prom_counters(struct text *o, const struct prom_counter *rows, size_t n, const uint64_t *c)
{
    for (size_t i = 0; i < n; i++)
        metric(o, rows[i].name, "counter", rows[i].help, (ull)c[rows[i].c]);
}

static void prom_backend(struct text *o, const struct view *v)
{
    static const struct prom_counter counters[] = {
        {"backend_reads_submitted_total", "Disk reads started.", FY_C_READS_SUBMITTED},
        {"backend_reads_completed_total", "Disk reads finished.", FY_C_READS_COMPLETED},
        {"backend_read_bytes_total", "Bytes read from the disk.", FY_C_BYTES_READ},
        {"backend_short_reads_total", "Reads that returned fewer bytes than asked.", FY_C_SHORT_READS},
        {"backend_read_errors_total", "Reads that failed.", FY_C_READ_ERRORS},
        {"backend_fallbacks_total", "Files sent with plain sendfile because O_DIRECT was refused.",
         FY_C_PLAIN_FILES},
        {"backend_cache_hit_blocks_total", "Blocks sent straight from the page cache (auto).",
         FY_C_CACHED_BLOCKS},
        {"backend_lookups_total", "File names looked up off the loop before opening (io-uring, auto).",
         FY_C_LOOKUPS},
    };
    const uint64_t *g = v->t.gauge;
    family(o, "backend_engine", "gauge", "Serving processes by the engine their backend runs on (auto: io_uring, "
           "else libaio, else sendfile).");
    for (int e = 0; e < FY_NENGINES; e++)
        put(o, "ferry_backend_engine{engine=\"%s\"} %llu\n", fy_engine_name((enum fy_engine)e),
            (ull)g[FY_G_ENGINE + e]);
    prom_counters(o, counters, sizeof counters / sizeof counters[0], v->t.counter);
    metric(o, "backend_reads_in_flight", "gauge", "Disk reads in flight now.", (ull)g[FY_G_READS_IN_FLIGHT]);
    metric(o, "backend_queue_length", "gauge", "Transfers waiting for a buffer or a read slot.",
           (ull)g[FY_G_QUEUED]);
    family(o, "buffer_pool_buffers", "gauge", "Buffers of the /dev/shm pools, by state.");
    put(o, "ferry_buffer_pool_buffers{state=\"used\"} %llu\n", (ull)(g[FY_G_POOL_BUFFERS] - g[FY_G_POOL_FREE]));
    put(o, "ferry_buffer_pool_buffers{state=\"free\"} %llu\n", (ull)g[FY_G_POOL_FREE]);
    metric(o, "buffer_pool_buffer_size_bytes", "gauge", "Bytes per pool buffer.", (ull)g[FY_G_BUFFER_SIZE]);
    metric(o, "buffer_pool_resident_bytes", "gauge", "Bytes of /dev/shm the pools hold now: the extents of their "
           "buffers in use or used in the last seconds.", (ull)g[FY_G_POOL_RESIDENT]);
}

static void prom_tls(struct text *o, const uint64_t *c)
{
    static const char *const reasons[] = {"timeout", "protocol", "plain_http", "closed"};
    metric(o, "tls_handshakes_total", "counter", "TLS handshakes finished.", (ull)c[FY_C_TLS_HANDSHAKES]);
    metric(o, "tls_resumptions_total", "counter", "TLS handshakes that resumed a session (ticket).",
           (ull)c[FY_C_TLS_RESUMED]);
    metric(o, "tls_ktls_connections_total", "counter", "TLS connections whose sending the kernel encrypts.",
           (ull)c[FY_C_TLS_KTLS]);
    family(o, "tls_handshake_failures_total", "counter", "TLS handshakes that failed, by reason.");
    for (int i = 0; i < 4; i++)
        put(o, "ferry_tls_handshake_failures_total{reason=\"%s\"} %llu\n", reasons[i],
            (ull)c[FY_C_TLS_FAIL_TIMEOUT + i]);
}

static void prom_http2(struct text *o, const uint64_t *c)
{
    static const struct prom_counter rows[] = {
        {"http2_connections_total", "Connections that spoke HTTP/2.", FY_C_H2_CONNECTIONS},
        {"http2_streams_total", "Requests received on HTTP/2 streams.", FY_C_H2_STREAMS},
        {"http2_resets_received_total", "HTTP/2 streams the client reset.", FY_C_H2_RESETS_RECEIVED},
        {"http2_resets_sent_total", "HTTP/2 streams ferry reset.", FY_C_H2_RESETS_SENT},
        {"http2_goaways_total", "HTTP/2 GOAWAY frames sent.", FY_C_H2_GOAWAYS},
        {"http2_floods_total", "HTTP/2 connections ended for a flood of frames without requests.", FY_C_H2_FLOODS},
        {"http2_stalls_total", "HTTP/2 streams reset after write-timeout without progress.", FY_C_H2_STALLS},
        {"http2_protocol_errors_total", "HTTP/2 connections ended for breaking the protocol.",
         FY_C_H2_PROTOCOL_ERRORS},
    };
    prom_counters(o, rows, sizeof rows / sizeof rows[0], c);
}

static void prom_auth(struct text *o, const struct view *v)
{
    const uint64_t *c = v->t.counter;
    metric(o, "auth_checks_total", "counter", "auth-basic: passwords hashed, off the event loop.",
           (ull)c[FY_C_AUTH_CHECKS]);
    metric(o, "auth_checks_waiting", "gauge", "auth-basic: password checks queued or running now.",
           (ull)v->t.gauge[FY_G_AUTH_WAITING]);
    metric(o, "auth_cache_hits_total", "counter", "auth-basic: requests let in by a password checked before.",
           (ull)c[FY_C_AUTH_CACHE_HITS]);
    metric(o, "auth_refused_total", "counter",
           "auth-basic: 401s for credentials given (wrong password, unknown user, malformed).",
           (ull)c[FY_C_AUTH_REFUSED]);
    metric(o, "auth_busy_total", "counter", "auth-basic: 503s because too many password checks waited.",
           (ull)c[FY_C_AUTH_BUSY]);
}

static void prom_digests(struct text *o, const struct view *v)
{
    static const struct {
        const char *name, *help;
        enum fy_counter c;
    } counters[] = {
        {"digests_hashed_total", "Files read and hashed (SHA-256) by the digest threads.", FY_C_DIGESTS_HASHED},
        {"digest_bytes_total", "Bytes read to hash files.", FY_C_DIGEST_BYTES},
        {"digests_from_xattr_total", "Digests read from the user.ferry.sha256 attribute.", FY_C_DIGESTS_FROM_XATTR},
        {"digests_xattr_stored_total", "Digests written to the user.ferry.sha256 attribute.",
         FY_C_DIGESTS_XATTR_STORED},
        {"digests_changed_total", "Digests dropped because the file changed.", FY_C_DIGESTS_CHANGED},
        {"digests_failed_total", "Files that could not be hashed.", FY_C_DIGESTS_FAILED},
        {"digests_evicted_total", "Digests forgotten to make room (digest-cache-size).", FY_C_DIGESTS_EVICTED},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        metric(o, counters[i].name, "counter", counters[i].help, (ull)v->t.counter[counters[i].c]);
    metric(o, "digest_cache_entries", "gauge", "File versions whose digest is remembered or being computed.",
           (ull)v->t.gauge[FY_G_DIGEST_ENTRIES]);
    metric(o, "digests_pending", "gauge", "Files waiting for or being hashed.", (ull)v->t.gauge[FY_G_DIGESTS_PENDING]);
}

static void render_prometheus(struct text *o, const struct view *v)
{
    const uint64_t *c = v->t.counter, *g = v->t.gauge;
    struct fy_stats_shm *shm = v->shm;
    family(o, "info", "gauge", "The version and backend of this ferry, and the engine its backend runs on.");
    put(o, "ferry_info{version=\"%s\",backend=\"%s\",engine=\"%s\"} 1\n", FY_VERSION, v->backend, v->engine);
    metric(o, "start_time_seconds", "gauge", "When ferry started, in seconds since the Unix epoch.",
           shm_get(&shm->started));
    metric(o, "uptime_seconds", "gauge", "Seconds since ferry started.", v->uptime);
    metric(o, "workers", "gauge", "Worker processes configured.", shm_get(&shm->workers));
    metric(o, "processes", "gauge", "Serving processes running (more during a reload).", v->t.processes);
    metric(o, "reloads_total", "counter", "Configuration reloads that succeeded.", shm_get(&shm->reloads));
    metric(o, "respawns_total", "counter", "Workers started again after dying.", shm_get(&shm->respawns));
    metric(o, "connections_active", "gauge", "Client connections open now.", (ull)g[FY_G_ACTIVE]);
    family(o, "connections", "gauge", "Client connections open now, by state.");
    put(o, "ferry_connections{state=\"reading\"} %llu\n", (ull)g[FY_G_READING]);
    put(o, "ferry_connections{state=\"writing\"} %llu\n", (ull)g[FY_G_WRITING]);
    put(o, "ferry_connections{state=\"idle\"} %llu\n", (ull)g[FY_G_IDLE]);
    metric(o, "connections_accepted_total", "counter", "Connections accepted.", (ull)c[FY_C_ACCEPTED]);
    metric(o, "connections_refused_total", "counter", "Connections answered 503 at max-connections.",
           (ull)c[FY_C_REFUSED]);
    metric(o, "connections_refused_per_ip_total", "counter",
           "Connections answered 503 at max-connections-per-ip.", (ull)c[FY_C_REFUSED_PER_IP]);
    family(o, "request_buffers", "gauge", "Request buffers (a connection holds one only while at work), by state.");
    put(o, "ferry_request_buffers{state=\"used\"} %llu\n", (ull)(g[FY_G_REQ_BUFFERS] - g[FY_G_REQ_BUFFERS_FREE]));
    put(o, "ferry_request_buffers{state=\"free\"} %llu\n", (ull)g[FY_G_REQ_BUFFERS_FREE]);
    metric(o, "request_buffer_bytes", "gauge", "Bytes the request buffers take.", (ull)g[FY_G_REQ_BUFFER_BYTES]);
    metric(o, "body_cache_entries", "gauge", "Small hot files whose bytes are kept in memory.",
           (ull)g[FY_G_BODY_ENTRIES]);
    metric(o, "body_cache_bytes", "gauge", "Bytes of the kept bodies (body-cache-size bounds them).",
           (ull)g[FY_G_BODY_BYTES]);
    metric(o, "body_cache_hits_total", "counter", "Responses sent from a kept body, with no read.",
           (ull)c[FY_C_BODY_HITS]);
    metric(o, "body_cache_fills_total", "counter", "Bodies read to be kept.", (ull)c[FY_C_BODY_FILLS]);
    metric(o, "body_cache_evictions_total", "counter", "Bodies dropped to make room for others.",
           (ull)c[FY_C_BODY_EVICTIONS]);
    prom_classes(o, "requests_total", "Responses sent, by status class.", c + FY_C_REQ_1XX);
    prom_classes(o, "response_body_bytes_total", "Response body bytes sent, by status class.",
                 c + FY_C_BYTES_1XX);
    for (size_t i = 0; i < NSITE_COUNTERS; i++)
        metric(o, site_counters[i].prom, "counter", site_counters[i].help, (ull)c[site_counters[i].c]);
    prom_backend(o, v);
    prom_tls(o, c);
    prom_http2(o, c);
    prom_auth(o, v);
    prom_digests(o, v);
}

/* --- the response ------------------------------------------------------------- */

/* ?format=json|prometheus, else what Accept prefers (Prometheus asks for
 * OpenMetrics or text/plain); JSON by default.  -1: an unknown format. */
static int want_prometheus(const struct fy_request *r)
{
    static const char key[] = "format=";
    const char *q = r->query.p, *end = r->query.p + r->query.len;
    while (q && q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        size_t n = (size_t)((amp ? amp : end) - q);
        if (n >= sizeof key - 1 && memcmp(q, key, sizeof key - 1) == 0) {
            struct fy_str v = {q + sizeof key - 1, n - (sizeof key - 1)};
            if (fy_str_eq_nocase(v, "prometheus"))
                return 1;
            return fy_str_eq_nocase(v, "json") ? 0 : -1;
        }
        q = amp ? amp + 1 : NULL;
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct fy_header *h = &r->headers[i];
        if (!fy_str_eq_nocase(h->name, "accept"))
            continue;
        char value[512];
        snprintf(value, sizeof value, "%.*s", (int)h->value.len, h->value.p);
        if (strcasestr(value, "openmetrics") || strcasestr(value, "text/plain"))
            return 1;
    }
    return 0;
}

static int send_page(struct fy_exchange *ex, struct text *body, bool prometheus)
{
    const struct fy_request *r = &ex->req;
    struct fy_buf b = {.p = ex->wbuf, .cap = FY_EXCHANGE_HEAD_BUFFER};
    fy_response_start(&b, 200, fy_server_date(ex->srv));
    fy_buf_puts(&b, "Content-Type: ");
    fy_buf_puts(&b, prometheus ? PROM_TYPE : "application/json");
    fy_buf_puts(&b, "\r\nCache-Control: no-store\r\nContent-Length: ");
    fy_buf_put_u64(&b, body->len);
    fy_buf_puts(&b, "\r\n");
    fy_response_end(&b, ex->keep_alive, r->version_minor);
    if (b.overflow) {
        free(body->p);
        return 500;
    }
    ex->status = 200;
    ex->xfer.head_len = b.len;
    ex->head_nonbody = b.len;
    if (r->method == FY_METHOD_HEAD || body->len == 0) {
        free(body->p);
        return 0;
    }
    ex->body_mem = body->p;
    ex->body_mem_len = body->len;
    return 0;
}

int fy_status_respond(struct fy_exchange *ex)
{
    struct fy_server *srv = ex->srv;
    const struct fy_request *r = &ex->req;
    if (!fy_status_allowed(&srv->cfg, &ex->client)) {
        fy_stats_add(srv->slot, FY_C_DENIED, 1);
        return 403;
    }
    if (r->method != FY_METHOD_GET && r->method != FY_METHOD_HEAD)
        return 405;
    int prometheus = want_prometheus(r);
    if (prometheus < 0)
        return 400;
    fy_server_refresh_stats(srv);
    struct view v = {.shm = srv->stats, .backend = srv->cfg.backend};
    fy_stats_sum(srv->stats, &v.t);
    v.engine = engine_of(v.t.gauge);
    time_t now = time(NULL);
    ull started = shm_get(&srv->stats->started);
    v.uptime = (ull)now > started ? (ull)now - started : 0;
    struct text body = {0};
    if (prometheus)
        render_prometheus(&body, &v);
    else
        render_json(&body, &v);
    if (body.failed) {
        free(body.p);
        return 503;
    }
    return send_page(ex, &body, prometheus);
}
