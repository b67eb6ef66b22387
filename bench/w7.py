#!/usr/bin/python3
"""bench/w7.py: the files of W7 (compressed responses) and the check of a server's answers.

  w7.py make DIR
      Writes DIR/page.html and DIR/app.js, 40 KiB each: an HTML page (articles, navigation,
      an inline script) and a script (functions, objects, strings), made of words drawn with
      Zipf frequencies from a fixed vocabulary, so that they compress about as real pages do
      (gzip -6 to roughly a quarter).  The same bytes on every machine and Python version
      (a seeded generator, and only its random()).  Rewritten only when the bytes differ.
  w7.py check --port P --root DIR --paths /w7/page.html,/w7/app.js --accept "gzip, br, zstd"
              [--wait S]
      Asks for each path with that Accept-Encoding (one connection each, as a browser would),
      again every 50 ms until the answer is compressed or S seconds have passed: ferry sends
      a file as it is until its compressed copy has been made, off its loop.  Each body must
      decode (gzip, br, zstd or none) to the file under DIR byte for byte.  Prints one JSON
      object: per path the coding, body and head bytes; "coding" (the one every path came
      in, or "mixed"), "body_mean", "head_mean", "waited_s", and "errors" with "error_kinds".

brotli and zstandard are Debian's python3-brotli and python3-zstandard (scripts/deps.sh).
"""

import argparse
import gzip
import json
import os
import socket
import sys
import time

SIZE = 40 * 1024
SEED = 17


class Gen:
    """Draws from a seeded generator with random() only (stable across Python versions)."""

    def __init__(self, seed):
        import random
        self.r = random.Random(seed)

    def below(self, n):
        return int(self.r.random() * n)

    def pick(self, seq):
        return seq[self.below(len(seq))]


def vocabulary(g, n=1800):
    syl = ("ka ri to na se mo lu pe di ga vo te shi ren an el or is un ex com pro tion ment able "
           "ver sta tra ble con ing er ed ly al ic ous ive per de re in im dis mis sub").split()
    words, seen = [], set()
    while len(words) < n:
        w = "".join(g.pick(syl) for _ in range(1 + g.below(3)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    # Zipf: the word of rank k drawn with weight 1/k, through a cumulative table.
    cum, total = [], 0.0
    for k in range(1, n + 1):
        total += 1.0 / k
        cum.append(total)
    return words, cum, total


class Text:
    def __init__(self, g):
        self.g = g
        self.words, self.cum, self.total = vocabulary(g)

    def word(self):
        x = self.g.r.random() * self.total
        lo, hi = 0, len(self.cum) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.cum[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return self.words[lo]

    def sentence(self):
        ws = [self.word() for _ in range(6 + self.g.below(14))]
        return ws[0].capitalize() + " " + " ".join(ws[1:]) + self.g.pick(".....?!")

    def ident(self):
        a, b = self.word(), self.word()
        return a + b.capitalize()


def fill(head, tail, make_part):
    """head + parts + tail, exactly SIZE bytes: parts are added while they fit, then spaces."""
    body = head
    while True:
        p = make_part()
        if len(body) + len(p) + len(tail) > SIZE:
            break
        body += p
    return body + " " * (SIZE - len(body) - len(tail)) + tail


def page(t):
    g = t.g
    head = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>%s</title>\n<link rel=\"stylesheet\" href=\"/w7/site.css\">\n"
            "<script src=\"/w7/app.js\" defer></script>\n</head>\n<body class=\"home\">\n"
            "<header class=\"site-header\"><nav class=\"main-nav\"><ul>\n" % t.sentence())
    for _ in range(8):
        w = t.word()
        head += "  <li class=\"nav-item\"><a class=\"nav-link\" href=\"/%s/\">%s</a></li>\n" % (w, w.capitalize())
    head += "</ul></nav></header>\n<main id=\"content\" class=\"container\">\n"
    tail = ("</main>\n<footer class=\"site-footer\"><p>%s</p></footer>\n<script>\n"
            "document.querySelectorAll('.post .more').forEach(function (b) {\n"
            "  b.addEventListener('click', function () { b.closest('.post').classList.toggle('open'); });\n"
            "});\n</script>\n</body>\n</html>\n" % t.sentence())
    n = [0]

    def article():
        n[0] += 1
        s = "<article class=\"post\" id=\"post-%d\">\n  <h2 class=\"post-title\"><a href=\"/posts/%s-%d.html\">%s</a></h2>\n" % (
            n[0], t.word(), n[0], t.sentence().rstrip(".?!"))
        s += ("  <p class=\"post-meta\">Posted <time datetime=\"2024-%02d-%02dT%02d:%02d\">%d %s</time> by "
              "<a class=\"author\" href=\"/authors/%s\">%s</a></p>\n" % (
                  1 + g.below(12), 1 + g.below(28), g.below(24), g.below(60), 1 + g.below(28), t.word(),
                  t.word(), t.word().capitalize()))
        for _ in range(1 + g.below(3)):
            s += "  <p>" + " ".join(t.sentence() for _ in range(2 + g.below(4))) + "</p>\n"
        s += "  <ul class=\"tags\">" + "".join("<li><a href=\"/tags/%s\">%s</a></li>" % ((w,) * 2)
                                             for w in (t.word() for _ in range(2 + g.below(3)))) + "</ul>\n"
        s += "  <button class=\"more\" type=\"button\">More</button>\n</article>\n"
        return s

    return fill(head, tail, article)


def script(t):
    g = t.g
    head = "'use strict';\n/* %s */\n(function (global) {\n" % t.sentence()
    tail = "\n  function start() { return 0; }\n  global.app = { start: start };\n})(window);\n"

    def function():
        name, a, b = t.ident(), t.word(), t.word()
        s = "  function %s(%s, %s) {\n" % (name, a, b)
        s += "    var %s = %s && %s.%s ? %s.%s : %d;\n" % (t.word(), a, a, t.word(), a, t.word(), g.below(1000))
        s += "    if (%s.length > %d) {\n      %s.push({ %s: '%s', %s: %s, %s: %s });\n    }\n" % (
            b, g.below(64), b, t.word(), t.sentence()[:40].replace("'", ""), t.word(), a, t.word(), g.below(100))
        s += "    for (var i = 0; i < %s.length; i++) {\n      %s(%s[i], '%s');\n    }\n" % (
            b, t.ident(), b, t.word())
        s += "    return document.querySelector('.%s-%s') || %s;\n  }\n" % (t.word(), t.word(), a)
        return s

    return fill(head, tail, function)


def make(out):
    os.makedirs(out, exist_ok=True)
    t = Text(Gen(SEED))
    for name, data in (("page.html", page(t)), ("app.js", script(t))):
        data = data.encode()
        assert len(data) == SIZE, (name, len(data))
        path = os.path.join(out, name)
        try:
            with open(path, "rb") as f:
                if f.read() == data:
                    continue
        except FileNotFoundError:
            pass
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)


def get(port, path, accept, timeout=10):
    """One GET on a new connection: (status, {header: value}, head bytes, body without its framing)."""
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept-Encoding: %s\r\nConnection: close\r\n\r\n"
           % (path, port, accept)).encode()
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("no complete response head")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = dechunk(body)        # nginx compresses on the fly: no length known ahead
    elif "content-length" in headers:
        body = body[:int(headers["content-length"])]
    return status, headers, len(head) + 4, body


def dechunk(data):
    out = b""
    while True:
        line, sep, data = data.partition(b"\r\n")
        if not sep:
            raise ValueError("a chunked body cut short")
        n = int(line.split(b";")[0], 16)
        if n == 0:
            return out
        out += data[:n]
        data = data[n + 2:]


def decode(coding, body):
    if coding in ("", "identity"):
        return body
    if coding == "gzip":
        return gzip.decompress(body)
    if coding == "br":
        import brotli
        return brotli.decompress(body)
    if coding == "zstd":
        import zstandard
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    raise ValueError("unknown coding %r" % coding)


def check(a):
    t0 = time.monotonic()
    files, errors, kinds = [], 0, []
    for path in a.paths.split(","):
        want = open(os.path.join(a.root, path.lstrip("/")), "rb").read()
        deadline = time.monotonic() + a.wait
        while True:
            try:
                status, headers, head, body = get(a.port, path, a.accept)
            except (OSError, ValueError) as e:
                status, headers, head, body = 0, {}, 0, b""
                err = "%s: %s" % (path, e)
            coding = headers.get("content-encoding", "")
            if (status != 200 or coding) or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        ok = False
        if status == 200:
            try:
                ok = decode(coding, body) == want
                err = "%s: %s body does not decode to the file" % (path, coding or "plain")
            except Exception as e:       # a corrupt body is an error of the server, reported
                err = "%s: %s body does not decode: %s" % (path, coding, e)
        elif status:
            err = "%s: status %d" % (path, status)
        if not ok:
            errors += 1
            kinds.append(err)
        files.append({"path": path, "status": status, "coding": coding or "identity", "body": len(body),
                      "head": head, "ok": ok})
    codings = {f["coding"] for f in files}
    print(json.dumps({
        "coding": codings.pop() if len(codings) == 1 else "mixed",
        "files": files,
        "body_mean": sum(f["body"] for f in files) / len(files),
        "head_mean": sum(f["head"] for f in files) / len(files),
        "waited_s": round(time.monotonic() - t0, 2),
        "errors": errors,
        "error_kinds": "; ".join(kinds)[:300],
    }))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("dir")
    c = sub.add_parser("check")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--root", required=True)
    c.add_argument("--paths", required=True)
    c.add_argument("--accept", required=True)
    c.add_argument("--wait", type=float, default=10)
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.dir)
    else:
        check(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
