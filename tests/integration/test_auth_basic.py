"""HTTP Basic authentication (issue 17 item 3): auth-basic and
auth-basic-user-file, with htpasswd files made at test time by Apache's
htpasswd (-B bcrypt, -2 SHA-256-crypt, -5 SHA-512-crypt) and mkpasswd
(Debian's whois package); 401 and its challenge, wrong passwords, unknown
users, malformed headers, realms per path and per host, index files, the
access log's user field, reload, -t refusing weak hashes, and the loop
staying responsive while slow password checks run off it."""

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from helpers import T, Client, assert_error, build_request, run_ferry, wait_until, write_config

AS_ROOT = ["-u", "root"] if os.geteuid() == 0 else []

PASSWORDS = {"alice": "wonderland", "bob": "the builder", "carol": "s3cr\u00e9t", "dave": "d:a:v:e", "erin": "yes"}


# host ident user [time] "request" status bytes "referer" "user-agent"
ACCESS = re.compile(r'^(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[[^]]+\] "(?:[^"\\]|\\.)*" (?P<status>\d{3}) ')


def access_entries(path):
    lines = path.read_text().splitlines() if path.exists() else []
    return [ACCESS.match(line).groupdict() for line in lines]


def tool(name):
    path = shutil.which(name)
    assert path, f"{name} is not installed (scripts/deps.sh installs apache2-utils and whois)"
    return path


def htpasswd(path, user, password, *flags, create=False):
    """Adds a user the way an administrator would (the password on stdin, -i)."""
    args = [tool("htpasswd"), "-i", *(["-c"] if create else []), *flags, str(path), user]
    subprocess.run(args, input=password.encode(), check=True, capture_output=True)


def mkpasswd(method, password):
    r = subprocess.run([tool("mkpasswd"), "-m", method, "--stdin"], input=password.encode(), check=True,
                       capture_output=True)
    return r.stdout.decode().strip()


def basic(user, password):
    raw = f"{user}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


@pytest.fixture
def users(tmp_path):
    """One file with a user per kind of hash ferry takes."""
    path = tmp_path / "users"
    htpasswd(path, "alice", PASSWORDS["alice"], "-B", create=True)        # bcrypt, cost 5
    htpasswd(path, "bob", PASSWORDS["bob"], "-2")                        # SHA-256-crypt
    htpasswd(path, "carol", PASSWORDS["carol"], "-5")                    # SHA-512-crypt
    with open(path, "a") as f:
        f.write(f"dave:{mkpasswd('sha-512', PASSWORDS['dave'])}\n")     # mkpasswd -m sha-512
        f.write(f"erin:{mkpasswd('yescrypt', PASSWORDS['erin'])}\n")    # yescrypt, Debian's default
    text = path.read_text()
    assert "alice:$2y$05$" in text and "bob:$5$" in text and "carol:$6$" in text and "dave:$6$" in text
    assert "erin:$y$" in text
    return path


@pytest.fixture
def docroot(tmp_path):
    root = tmp_path / "www"
    files = {
        "index.html": b"home\n",
        "public.txt": b"for everyone\n",
        "private/secret.txt": b"the secret\n",
        "private/sub/index.html": b"private sub index\n",
        "private/open/notice.txt": b"an open corner of the private area\n",
        "team/plan.txt": b"the team's plan\n",
        "vault/index.secret": b"vault index\n",
        "vault/readme.txt": b"vault readme, not secret\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def auth_config(root, users, team_users=None, extra=""):
    team = team_users or users
    return f"""
docroot = {root}
index-files = index.html index.secret
access-log = stderr
{extra}
[path /private/]
auth-basic = "Private \\"area\\""
auth-basic-user-file = {users}

[path /private/open/]
auth-basic = off

[path /team/]
auth-basic = Team
auth-basic-user-file = {team}

[path *.secret]
auth-basic = Secrets
auth-basic-user-file = {users}

[host members.test]
docroot = {root}
auth-basic = Members
auth-basic-user-file = {team}
"""


@pytest.fixture
def server(ferry, docroot, users):
    return ferry(config=auth_config(docroot, users), docroot=None)


def get(f, path, auth=None, headers=None, method="GET", host="localhost"):
    h = dict(headers or {})
    if auth:
        h["Authorization"] = basic(*auth)
    with f.client(timeout=T(10)) as c:
        c.send(build_request(path, method=method, headers=h, host=host))
        return c.read_response(method)


def assert_challenge(r, realm, head=False):
    assert_error(r, 401, head=head)
    assert r.reason == "Unauthorized"
    assert r.all("www-authenticate") == [f'Basic realm="{realm}", charset="UTF-8"']


# --- 401 and 200 ----------------------------------------------------------------

def test_a_protected_file_asks_for_a_password(server):
    r = get(server, "/private/secret.txt")
    assert_challenge(r, 'Private \\"area\\"')
    r = get(server, "/private/secret.txt", method="HEAD")
    assert_challenge(r, 'Private \\"area\\"', head=True)
    # the rest of the site is not affected
    assert get(server, "/public.txt").body == b"for everyone\n"
    assert get(server, "/").body == b"home\n"


@pytest.mark.parametrize("user", sorted(PASSWORDS))
def test_every_kind_of_hash_lets_its_user_in(server, user):
    r = get(server, "/private/secret.txt", auth=(user, PASSWORDS[user]))
    assert r.status == 200, r
    assert r.body == b"the secret\n"
    assert r.header("www-authenticate") is None


def test_401_keeps_the_connection_for_the_retry_with_credentials(server):
    """What a browser does: ask, get the challenge, ask again on the same connection."""
    with server.client(timeout=T(10)) as c:
        r = c.request("/private/secret.txt")
        assert r.status == 401 and r.header("connection") is None
        r = c.request("/private/secret.txt", headers={"Authorization": basic("alice", "wonderland")})
        assert r.status == 200 and r.body == b"the secret\n"
        r = c.request("/private/sub/", headers={"Authorization": basic("alice", "wonderland")})
        assert r.status == 200 and r.body == b"private sub index\n"


def test_wrong_password_and_unknown_user_are_refused_alike(server):
    for user, password in [("alice", "Wonderland"), ("alice", ""), ("alice", "wonderland "), ("bob", "wonderland"),
                           ("mallory", "wonderland"), ("Alice", "wonderland"), ("alic", "ewonderland")]:
        r = get(server, "/private/secret.txt", auth=(user, password))
        assert_challenge(r, 'Private \\"area\\"')
    wait_until(lambda: "no such user \"mallory\"" in server.stderr, T(3))
    assert 'wrong password for user "alice"' in server.stderr
    assert "Wonderland" not in server.stderr  # no password in any log line
    assert basic("alice", "Wonderland").split()[1] not in server.stderr


MALFORMED = [
    "Bearer abc.def.ghi",
    "Basic",
    "Basic ",
    "Basic !!!!",
    "BasicYWxpY2U6d29uZGVybGFuZA==",
    "Digest username=\"alice\"",
    "Basic " + base64.b64encode(b"alice").decode(),                 # no ':'
    "Basic " + base64.b64encode(b":wonderland").decode(),           # no user
    "Basic " + base64.b64encode(b"alice:wonderland\0junk").decode(),  # NUL: crypt() would stop there
    "Basic " + base64.b64encode(b"al\tice:wonderland").decode(),    # a control character in the user
    "Basic " + base64.urlsafe_b64encode(b"alice:wonderland??>").decode(),  # base64url is not base64
    "Basic " + "QUFB" * 400,                                        # longer than ferry takes
]


@pytest.mark.parametrize("value", MALFORMED)
def test_malformed_authorization_is_a_401(server, value):
    with server.client(timeout=T(10)) as c:
        r = c.request("/private/secret.txt", headers={"Authorization": value})
        assert_challenge(r, 'Private \\"area\\"')
        # the connection is still good
        r = c.request("/private/secret.txt", headers={"Authorization": basic("alice", "wonderland")})
        assert r.status == 200


def test_two_authorization_headers_are_refused(server):
    good = basic("alice", "wonderland")
    with server.client(timeout=T(10)) as c:
        c.send(build_request("/private/secret.txt", headers=[("Authorization", good), ("Authorization", good)]))
        assert_challenge(c.read_response(), 'Private \\"area\\"')


def test_the_scheme_is_case_insensitive(server):
    value = "bAsIc " + base64.b64encode(b"alice:wonderland").decode()
    assert get(server, "/private/secret.txt", headers={"Authorization": value}).status == 200


def test_nothing_behind_a_realm_shows_without_the_password(server):
    """No 404 and no redirect before the password: they would tell what exists."""
    assert_challenge(get(server, "/private/no-such-file"), 'Private \\"area\\"')
    assert_challenge(get(server, "/private/sub"), 'Private \\"area\\"')   # a directory without its '/'
    r = get(server, "/private/no-such-file", auth=("alice", "wonderland"))
    assert r.status == 404
    r = get(server, "/private/sub", auth=("alice", "wonderland"))
    assert r.status == 301 and r.header("location") == "/private/sub/"


# --- where a realm applies ---------------------------------------------------------

def test_realms_by_path_and_off_below(ferry, docroot, users, tmp_path):
    team = tmp_path / "team-users"
    htpasswd(team, "tom", "team pass", "-B", create=True)
    f = ferry(config=auth_config(docroot, users, team_users=team), docroot=None)
    # auth-basic = off below a protected prefix
    assert get(f, "/private/open/notice.txt").body == b"an open corner of the private area\n"
    # another realm, another user file: alice is not a team member, tom is
    assert_challenge(get(f, "/team/plan.txt"), "Team")
    assert_challenge(get(f, "/team/plan.txt", auth=("alice", "wonderland")), "Team")
    assert get(f, "/team/plan.txt", auth=("tom", "team pass")).body == b"the team's plan\n"
    assert_challenge(get(f, "/private/secret.txt", auth=("tom", "team pass")), 'Private \\"area\\"')
    # a whole virtual host behind a realm; the default host is open
    assert_challenge(get(f, "/public.txt", host="members.test"), "Members")
    assert get(f, "/public.txt", host="members.test", auth=("tom", "team pass")).status == 200
    assert get(f, "/public.txt").status == 200


def test_an_extension_rule_protects_a_directory_index(server):
    """[path *.secret]: /vault/ serves index.secret, so it asks too."""
    assert_challenge(get(server, "/vault/"), "Secrets")
    assert_challenge(get(server, "/vault/index.secret"), "Secrets")
    assert get(server, "/vault/readme.txt").body == b"vault readme, not secret\n"
    r = get(server, "/vault/", auth=("carol", PASSWORDS["carol"]))
    assert r.status == 200 and r.body == b"vault index\n"
    assert_challenge(get(server, "/vault/", auth=("carol", "nope")), "Secrets")


@pytest.mark.parametrize("backend", ["sendfile", "io-uring", "auto"])
def test_with_each_kind_of_backend(ferry, docroot, users, backend):
    """The password check waits off the loop like an io_uring lookup does; both in one request."""
    f = ferry(config=auth_config(docroot, users), docroot=None, backend=backend)
    for path, body in [("/private/secret.txt", b"the secret\n"), ("/private/sub/", b"private sub index\n"),
                       ("/vault/", b"vault index\n")]:
        assert get(f, path).status == 401
        r = get(f, path, auth=("bob", PASSWORDS["bob"]))
        assert r.status == 200 and r.body == body


# --- logs ---------------------------------------------------------------------------

def test_the_access_log_names_the_user_and_no_log_holds_a_password(ferry, docroot, users, tmp_path):
    log = tmp_path / "access.log"
    f = ferry(config=auth_config(docroot, users, extra=f"access-log = {log}"), docroot=None)
    get(f, "/private/secret.txt")
    get(f, "/private/secret.txt", auth=("alice", "wonderland"))
    get(f, "/private/secret.txt", auth=("alice", "not-the-password"))
    get(f, "/public.txt", auth=("alice", "wonderland"))  # no realm there: nobody was checked
    wait_until(lambda: len(access_entries(log)) == 4, T(3), message="4 access log lines")
    entries = access_entries(log)
    assert [(e["status"], e["user"]) for e in entries] == [("401", "-"), ("200", "alice"), ("401", "-"),
                                                           ("200", "-")]
    everything = log.read_text() + f.stderr
    for secret in ("wonderland", "not-the-password", basic("alice", "wonderland").split()[1]):
        assert secret not in everything


def test_status_counts_checks_cache_hits_and_refusals(ferry, docroot, users):
    f = ferry(config=auth_config(docroot, users, extra="status-path = /status"), docroot=None)
    get(f, "/private/secret.txt")                                  # no credentials: the usual first ask
    get(f, "/private/secret.txt", auth=("alice", "wrong"))         # refused, after a check
    get(f, "/private/secret.txt", headers={"Authorization": "Basic !!"})  # refused, malformed
    with f.client(timeout=T(10)) as c:
        for _ in range(6):                                         # one check, then five from the cache
            assert c.request("/private/secret.txt", headers={"Authorization": basic("bob", "the builder")}).status == 200

    def counted():
        s = json.loads(get(f, "/status").body)["auth"]
        return s if s["checks"] == 2 else None
    s = wait_until(counted, T(5), message="two password checks counted")
    assert s == {"checks": 2, "checks_waiting": 0, "cache_hits": 5, "refused": 2, "busy": 0}
    prom = get(f, "/status?format=prometheus").body.decode()
    for line in ("ferry_auth_checks_total 2", "ferry_auth_cache_hits_total 5", "ferry_auth_refused_total 2",
                 "ferry_auth_busy_total 0", "ferry_auth_checks_waiting 0"):
        assert line in prom.splitlines(), line


# --- the loop and the cache ---------------------------------------------------------

@pytest.fixture
def slow_users(tmp_path):
    """bcrypt at cost 12: about 0.3 s a check on the test machine."""
    path = tmp_path / "slow-users"
    htpasswd(path, "slow", "slow password", "-B", "-C", "12", create=True)
    htpasswd(path, "quick", "quick password", "-B", "-C", "4")
    return path


def slow_config(root, users):
    return f"docroot = {root}\n[path /private/]\nauth-basic = Slow\nauth-basic-user-file = {users}\n"


def timed_get(f, path, auth=None):
    start = time.monotonic()
    r = get(f, path, auth=auth)
    return r, time.monotonic() - start


def test_keep_alive_clients_are_checked_once(ferry, docroot, slow_users):
    f = ferry(config=slow_config(docroot, slow_users), docroot=None)
    headers = {"Authorization": basic("slow", "slow password")}
    with f.client(timeout=T(10)) as c:
        start = time.monotonic()
        assert c.request("/private/secret.txt", headers=headers).status == 200
        first = time.monotonic() - start
        start = time.monotonic()
        for _ in range(30):
            assert c.request("/private/secret.txt", headers=headers).status == 200
        rest = time.monotonic() - start
    # a new connection with the same credentials is not checked again either
    r, again = timed_get(f, "/private/secret.txt", auth=("slow", "slow password"))
    assert r.status == 200
    assert first > 0.05, f"a cost-12 bcrypt check took only {first:.3f} s: not checked?"
    assert rest < 3 * first, f"30 requests took {rest:.3f} s, the first {first:.3f} s: hashed every time?"
    assert again < first, (again, first)


def test_the_loop_answers_while_slow_checks_run(ferry, docroot, slow_users):
    """A flood of wrong passwords (each a 0.3 s bcrypt check) while a static
    file is fetched: the static requests answer at once, the checks answer
    401 one after another."""
    f = ferry(config=slow_config(docroot, slow_users), docroot=None)
    n = 8
    results = []

    def bad_login(i):
        r, took = timed_get(f, "/private/secret.txt", auth=("slow", f"guess {i}"))
        results.append((r.status, took))

    threads = [threading.Thread(target=bad_login, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    time.sleep(0.1)  # the checks are queued and running
    static = []
    while any(t.is_alive() for t in threads) and len(static) < 200:
        r, took = timed_get(f, "/public.txt")
        assert r.status == 200
        static.append(took)
    for t in threads:
        t.join(T(60))
    statuses = sorted(s for s, _ in results)
    slowest_check = max(took for _, took in results)
    assert statuses == [401] * n
    worst = max(static)
    median = sorted(static)[len(static) // 2]
    print(f"{n} wrong passwords answered within {slowest_check:.2f} s; {len(static)} static requests meanwhile, "
          f"median {median * 1000:.1f} ms, worst {worst * 1000:.1f} ms")
    assert slowest_check > 0.5, "the checks were not slow: was bcrypt at cost 12 used?"
    # Checked on the loop, nearly every static request would wait for a check
    # (0.3 s or more) and a handful would fit in the time; off it, they do not
    # wait at all.  The worst is left room for a busy shared machine.
    assert len(static) >= 50, f"only {len(static)} static requests answered in {slowest_check:.2f} s"
    assert median < T(0.05), f"static requests waited {median:.3f} s (median) behind the password checks"
    assert worst < T(1), f"a static request waited {worst:.3f} s"


def test_too_many_checks_waiting_are_answered_503(ferry, docroot, tmp_path):
    users = tmp_path / "users6"
    htpasswd(users, "u", "right", "-B", "-C", "6", create=True)
    f = ferry(config=slow_config(docroot, users), docroot=None)
    clients = []
    try:
        for i in range(90):  # each a different wrong password: no two can share a check
            c = Client(f.port, timeout=T(30))
            c.send(build_request("/private/secret.txt", headers={"Authorization": basic("u", f"wrong {i}")}))
            clients.append(c)
        statuses = [c.read_response().status for c in clients]
    finally:
        for c in clients:
            c.close()
    assert set(statuses) <= {401, 503}
    assert statuses.count(503) > 0, "90 checks were all queued: the queue is not bounded"
    assert statuses.count(401) >= 64, statuses
    assert "password checks waiting already; answering 503" in f.stderr


def test_checks_of_clients_that_left_are_dropped(ferry, docroot, slow_users):
    """60 wrong passwords at 0.3 s each are 18 s of work; their clients go
    away, so the next client waits for one check at most, not all of them."""
    f = ferry(config=slow_config(docroot, slow_users), docroot=None)
    for i in range(60):
        with Client(f.port) as c:
            c.send(build_request("/private/secret.txt", headers={"Authorization": basic("slow", f"guess {i}")}))
    time.sleep(0.2)
    r, took = timed_get(f, "/private/secret.txt", auth=("quick", "quick password"))
    assert r.status == 200
    assert took < T(2.5), f"{took:.2f} s: the abandoned checks ran"


# --- configuration: -t, start, reload -----------------------------------------------

def test_t_refuses_md5_and_plain_passwords_with_their_line(docroot, users, tmp_path):
    conf = tmp_path / "ferry.conf"
    write_config(conf, auth_config(docroot, users))
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr

    htpasswd(users, "mallory", "md5 pass", "-m")  # $apr1$: htpasswd's default
    line = len(users.read_text().splitlines())
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 1
    conf_line = next(i for i, l in enumerate(conf.read_text().splitlines(), 1) if "auth-basic-user-file" in l)
    assert r.stderr.strip() == (
        f"ferry: {conf}:{conf_line}: auth-basic-user-file: {users}:{line}: user \"mallory\": an MD5 hash "
        "($apr1$, htpasswd's default or -m) is refused as weak; make it again with htpasswd -B (bcrypt) "
        "or -5 (SHA-512-crypt)")
    start = run_ferry(["-X", *AS_ROOT, "-c", str(conf), "-l", "127.0.0.1:1"])  # start-up refuses it too
    assert start.returncode == 1 and f"{users}:{line}: user \"mallory\"" in start.stderr

    lines = users.read_text().splitlines()
    users.write_text("\n".join(lines[:-1]) + "\n")
    htpasswd(users, "trent", "plain pass", "-p")  # no hash at all
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 1
    assert f"{users}:{line}: user \"trent\": the password is not hashed (plain text, or DES crypt)" in r.stderr
    assert "plain pass" not in r.stderr


def test_a_realm_without_a_user_file_is_refused(docroot, tmp_path):
    conf = tmp_path / "ferry.conf"
    write_config(conf, f"docroot = {docroot}\n[path /private/]\nauth-basic = Private\n")
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 1
    assert r.stderr.strip() == (f"ferry: {conf}:3: auth-basic: no auth-basic-user-file for this realm (set one in "
                                "the same section, or for every path of the host or the top level)")


def test_plain_http_is_warned_about_once(ferry, docroot, users, site):
    f = ferry(config=auth_config(docroot, users), docroot=None)
    assert f.stderr.count("auth-basic: passwords are asked over plain HTTP") == 1, f.stderr
    assert "is inside" not in f.stderr
    m = ferry(config=auth_config(docroot, users), docroot=None, master=True, args=["-w", "2", *AS_ROOT])
    wait_until(lambda: "listening on" in m.stderr, T(10))
    assert m.stderr.count("auth-basic: passwords are asked over plain HTTP") == 1, m.stderr
    plain = ferry(docroot=site.root)
    assert "auth-basic" not in plain.stderr


def test_a_user_file_the_docroot_serves_is_warned_about(ferry, docroot, users):
    served = docroot / "users.txt"
    served.write_bytes(users.read_bytes())
    (docroot / ".htpasswd").write_bytes(users.read_bytes())
    f = ferry(config=auth_config(docroot, served), docroot=None)
    assert f"auth-basic-user-file {served} is inside {docroot}, which is served" in f.stderr
    assert get(f, "/users.txt").body == users.read_bytes()  # which is why it is worth a warning
    assert get(f, "/.htpasswd").status == 404  # the usual name is a hidden file: never served


def test_reload_reads_the_user_file_again(ferry, docroot, users):
    f = ferry(config=auth_config(docroot, users), docroot=None, master=True, args=["-w", "1", *AS_ROOT])
    wait_until(lambda: "listening on" in f.stderr, T(10))
    wait_until(lambda: get(f, "/private/secret.txt", auth=("alice", "wonderland")).status == 200, T(5))
    assert get(f, "/private/secret.txt", auth=("frank", "new here")).status == 401

    htpasswd(users, "frank", "new here", "-B")
    htpasswd(users, "alice", "changed", "-B")  # a password changed
    assert get(f, "/private/secret.txt", auth=("frank", "new here")).status == 401  # not before the reload
    f.send_signal(signal.SIGHUP)
    wait_until(lambda: "reloaded: generation 2" in f.stderr, T(10))
    wait_until(lambda: get(f, "/private/secret.txt", auth=("frank", "new here")).status == 200, T(5))
    assert get(f, "/private/secret.txt", auth=("alice", "changed")).status == 200
    assert get(f, "/private/secret.txt", auth=("alice", "wonderland")).status == 401  # the old one: not cached


def test_reload_with_a_weak_hash_keeps_the_old_users(ferry, docroot, users):
    f = ferry(config=auth_config(docroot, users), docroot=None, master=True, args=["-w", "1", *AS_ROOT])
    wait_until(lambda: "listening on" in f.stderr, T(10))
    htpasswd(users, "mallory", "md5 pass", "-m")
    f.send_signal(signal.SIGHUP)
    wait_until(lambda: "still serving with the old configuration" in f.stderr, T(10))
    assert f"{users}:6: user \"mallory\": an MD5 hash" in f.stderr
    assert get(f, "/private/secret.txt", auth=("alice", "wonderland")).status == 200
    assert get(f, "/private/secret.txt", auth=("mallory", "md5 pass")).status == 401
