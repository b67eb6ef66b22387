"""Certificates for the TLS tests (issue 13), made at test time with the
`openssl` command: a root CA, an intermediate CA signed by it, and server
leaves signed by the intermediate, each with its private key and a chain
file (leaf, then intermediate) as ferry's tls-certificate wants it.

    pki = PKI(directory)                  # makes everything (a second or two)
    pki.root                              # the trust anchor: curl --cacert, ssl cafile
    pki.leaf("a.test", "ecdsa")           # a Leaf: .chain .key .cert .serial .names
    pki.wrong_key                         # a key that matches no certificate
    pki.expired, pki.expiring             # expired (2020), expiring in 5 days
    pki.default2                          # default.test again, another key and serial

Leaves exist for the names in LEAF_NAMES, in both kinds ("ecdsa": P-256,
"rsa": 2048 bits), with the names as subjectAltName entries (the CN is only
informative), serverAuth as extended key usage, and a random 64-bit serial.

OpenSSL 3.0 (Debian 12) has no `x509 -not_before/-not_after`, and `-days`
must be positive: the expired leaf is signed by `openssl ca` with explicit
-startdate/-enddate."""

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

KINDS = ("ecdsa", "rsa")
# file stem -> the DNS names of the certificate
LEAF_NAMES = {
    "a.test": ["a.test"],
    "b.test": ["b.test"],
    "wild.test": ["*.wild.test"],
    "default.test": ["default.test"],
}

OPENSSL_CNF = """\
# Only what these commands need: nothing is taken from the system's openssl.cnf.
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused

[v3_root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[v3_intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ca]
default_ca = ca_intermediate
[ca_intermediate]
dir = {dir}
database = $dir/ca-index.txt
new_certs_dir = $dir/ca-new
rand_serial = yes
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
[policy_any]
commonName = supplied
"""

LEAF_EXT = """\
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, {usage}
extendedKeyUsage = serverAuth
subjectAltName = {sans}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass
class Leaf:
    name: str          # the file stem: "a.test", "wild.test", "expired.test"...
    kind: str          # "ecdsa" or "rsa"
    names: list        # DNS names in subjectAltName
    key: Path
    cert: Path         # the leaf alone
    chain: Path        # leaf + intermediate: what tls-certificate names
    serial: int


def openssl(*args, cwd=None):
    r = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def new_key(path, kind):
    if kind == "ecdsa":
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    elif kind == "rsa":
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    else:
        raise ValueError(kind)
    path.chmod(0o600)
    return path


def cert_serial(path):
    """The serial number of a PEM certificate, as an int."""
    out = openssl("x509", "-in", path, "-noout", "-serial").strip()
    assert out.startswith("serial="), out
    return int(out[len("serial="):], 16)


def cert_dates(path):
    """(notBefore, notAfter) as openssl prints them."""
    out = openssl("x509", "-in", path, "-noout", "-startdate", "-enddate").splitlines()
    return out[0].split("=", 1)[1], out[1].split("=", 1)[1]


class PKI:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cnf = self.dir / "openssl.cnf"
        self.cnf.write_text(OPENSSL_CNF.format(dir=self.dir))
        (self.dir / "ca-new").mkdir(exist_ok=True)
        (self.dir / "ca-index.txt").write_text("")
        self._leaves = {}
        self._make_cas()
        for stem, names in LEAF_NAMES.items():
            for kind in KINDS:
                self._leaves[(stem, kind)] = self._make_leaf(stem, kind, names)
        self.wrong_key = new_key(self.dir / "wrong.key", "ecdsa")
        self.expiring = self._make_leaf("soon.test", "ecdsa", ["soon.test"], days=5)
        self.expired = self._make_leaf("expired.test", "ecdsa", ["expired.test"],
                                       dates=("200101000000Z", "200201000000Z"))
        self.default2 = self._make_leaf("default.test", "ecdsa", ["default.test"], stem="default2.test")

    def leaf(self, name, kind="ecdsa"):
        return self._leaves[(name, kind)]

    @property
    def leaves(self):
        return list(self._leaves.values())

    # --- making them ---------------------------------------------------------

    def _make_cas(self):
        d = self.dir
        self.root_key = new_key(d / "root.key", "ecdsa")
        self.root = d / "root.pem"
        openssl("req", "-config", self.cnf, "-new", "-x509", "-key", self.root_key, "-sha256", "-days", 3650,
                "-subj", "/O=ferry tests/CN=ferry test root CA", "-extensions", "v3_root",
                "-set_serial", self._serial(), "-out", self.root)
        self.intermediate_key = new_key(d / "intermediate.key", "ecdsa")
        self.intermediate = d / "intermediate.pem"
        csr = d / "intermediate.csr"
        openssl("req", "-config", self.cnf, "-new", "-key", self.intermediate_key,
                "-subj", "/O=ferry tests/CN=ferry test intermediate CA", "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", self.root, "-CAkey", self.root_key, "-sha256",
                "-set_serial", self._serial(), "-days", 3650, "-extfile", self.cnf,
                "-extensions", "v3_intermediate", "-out", self.intermediate)

    @staticmethod
    def _serial():
        return str(secrets.randbits(63) | 1 << 62)  # positive, 19 digits

    def _make_leaf(self, name, kind, names, days=825, dates=None, stem=None):
        stem = f"{stem or name}.{kind}"
        d = self.dir
        key = new_key(d / f"{stem}.key", kind)
        csr, cert, chain, ext = (d / f"{stem}.{x}" for x in ("csr", "pem", "chain.pem", "ext"))
        usage = "digitalSignature, keyEncipherment" if kind == "rsa" else "digitalSignature"
        ext.write_text(LEAF_EXT.format(usage=usage, sans=", ".join(f"DNS:{n}" for n in names)))
        openssl("req", "-config", self.cnf, "-new", "-key", key, "-subj", f"/O=ferry tests/CN={names[0]}", "-out", csr)
        if dates:
            # openssl ca: the only way in OpenSSL 3.0 to set both dates in the past.
            openssl("ca", "-config", self.cnf, "-batch", "-notext", "-in", csr, "-cert", self.intermediate,
                    "-keyfile", self.intermediate_key, "-startdate", dates[0], "-enddate", dates[1],
                    "-extfile", ext, "-extensions", "leaf", "-out", cert)
        else:
            openssl("x509", "-req", "-in", csr, "-CA", self.intermediate, "-CAkey", self.intermediate_key,
                    "-sha256", "-set_serial", self._serial(), "-days", days, "-extfile", ext,
                    "-extensions", "leaf", "-out", cert)
        chain.write_bytes(cert.read_bytes() + self.intermediate.read_bytes())
        return Leaf(name=name, kind=kind, names=list(names), key=key, cert=cert, chain=chain,
                    serial=cert_serial(cert))
