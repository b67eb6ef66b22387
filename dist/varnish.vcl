# Varnish in front of two ferry replicas: the configuration that
# tests/integration/test_balancers.py runs (Varnish 7.1, Debian 12; the
# test puts its loopback ports in place of the addresses).
#
# ferry's per-path rules give the TTL (cache-control = "max-age=..." in a
# [path] section); once it has passed, Varnish keeps the object and asks a
# replica whether it changed (If-None-Match with ferry's ETag,
# If-Modified-Since with its Last-Modified).  Since the ETag is made of the
# file's size and mtime (or its SHA-256, etag = digest), any replica with
# the same tree answers 304: the test sees the revalidation go to the other
# replica than the first fetch, and get 304.
vcl 4.1;

import directors;

# health-path = /_ferry/health in each replica's ferry.conf: it says 503
# from the moment the replica is told to stop (drain-delay keeps it serving
# meanwhile).
probe ferry_health {
    .url = "/_ferry/health";
    .interval = 1s;
    .timeout = 1s;
    .window = 3;
    .threshold = 2;
    .initial = 2;
}

backend replica1 { .host = "10.0.0.11"; .port = "80"; .probe = ferry_health; }
backend replica2 { .host = "10.0.0.12"; .port = "80"; .probe = ferry_health; }

sub vcl_init {
    new replicas = directors.round_robin();
    replicas.add_backend(replica1);
    replicas.add_backend(replica2);
}

sub vcl_recv {
    set req.backend_hint = replicas.backend();
}

sub vcl_backend_response {
    # Served stale for a moment while a revalidation runs, then kept so
    # that it can be revalidated (304) instead of fetched again.
    set beresp.grace = 10s;
    set beresp.keep = 1h;
}
