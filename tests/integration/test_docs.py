"""The documents cannot drift from the code (issue 15 item 6): every key the
code knows (ferry --defaults) is described in doc/config.md with the
default the code has, set (or shown commented) in the sample doc/ferry.conf
with that default unless a comment says otherwise, and named in
ferry.conf(5); the sample passes -t; and -t refuses what a start would."""

import re

import pytest

from helpers import REPO, run_ferry

CONFIG_MD = (REPO / "doc" / "config.md").read_text()
SAMPLE = (REPO / "doc" / "ferry.conf").read_text()
MAN = (REPO / "doc" / "ferry.conf.5").read_text()


def code_keys():
    """{key: default or None} as the binary's key table has them."""
    r = run_ferry(["--defaults"])
    assert r.returncode == 0, r.stderr
    keys = {}
    for line in r.stdout.splitlines():
        m = re.fullmatch(r"([a-z0-9-]+) = (.*)", line) or re.fullmatch(r"# ([a-z0-9-]+): no default.*", line)
        assert m, line
        keys[m.group(1)] = m.group(2) if m.re.pattern.startswith("([a-z") else None
    assert len(keys) > 40
    return keys


KEYS = code_keys()


def documented_default(key):
    """The default that the key's line in config.md states."""
    m = re.search(rf"^#+ {re.escape(key)}\n\n`{re.escape(key)} = [^`]*`(?: — |\.)(.*)$", CONFIG_MD, re.M)
    assert m, f"doc/config.md has no section \"### {key}\" starting with `{key} = ...`"
    d = re.match(r"default `([^`]*)`", m.group(1))
    return d.group(1) if d else m.group(1)


@pytest.mark.parametrize("key", sorted(KEYS))
def test_key_is_documented_with_the_code_default(key):
    default = KEYS[key]
    doc = documented_default(key)
    if default is None:
        return  # repeatable or per-path: the section says what unset means
    if default == "":
        assert doc.startswith("default: "), doc  # "default: none", "default: the primary group of `user`"
    else:
        assert doc == default, f"config.md says {doc!r}, the code {default!r}"


@pytest.mark.parametrize("key", sorted(KEYS))
def test_key_is_in_the_sample_and_the_man_page(key):
    lines = re.findall(rf"^(#? ?){re.escape(key)} = (.*)$", SAMPLE, re.M)
    assert lines, f"doc/ferry.conf does not show {key}"
    man_key = re.escape(key.replace("-", "\\-"))
    assert re.search(rf"(?<![a-z]){man_key}(?![a-z]|\\-)", MAN), f"ferry.conf(5) does not name {key}"
    default = KEYS[key]
    if default is None:
        return
    commented, value = lines[0]
    if commented or "not a default" in value:
        return
    value = re.sub(r"\s+#.*$", "", value).strip().strip('"')
    assert value == default, f"doc/ferry.conf sets {key} = {value!r}, the default is {default!r}"


def test_sample_passes_test_config():
    r = run_ferry(["-t", "-c", "doc/ferry.conf"], cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "is valid" in r.stdout


def test_test_config_refuses_what_start_would(tmp_path):
    """-t opened nothing: a missing docroot was "valid", then the start failed."""
    missing = tmp_path / "nonexistent"
    for config, want in ((f"docroot = {missing}\n", f"docroot {missing}: No such file or directory"),
                         (f"alias = /a {missing}\n", str(missing)),
                         (f"mime-types-file = {missing}\n", str(missing)),
                         (f"chroot = {missing}\n", f"chroot {missing}")):
        conf = tmp_path / "f.conf"
        conf.write_text(config)
        r = run_ferry(["-t", "-c", str(conf)], cwd=tmp_path)
        assert r.returncode == 1, (config, r.stdout)
        assert want in r.stderr and r.stderr.count("\n") == 1, r.stderr
    conf.write_text(f"docroot = {tmp_path}\n")
    assert run_ferry(["-t", "-c", str(conf)]).returncode == 0
