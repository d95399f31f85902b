# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test certificate authority and a server certificate for the mirror's TLS listener.

Made with `cryptography` (decisions.md: never hand-written crypto), cached under GOFLEET_CACHE in a
folder keyed by this file's content. Nothing outside the tests trusts it: it is never installed
in a system store; tests hand its ca.pem to the client (ca_path=). The server certificate names
127.0.0.1, 127.0.0.2 and localhost.

    paths = tls.materials()   # {"ca": ca.pem, "cert": server.pem, "key": server.key}
    ctx = tls.server_context()
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile

from . import config

NAMES = ("127.0.0.1", "127.0.0.2", "localhost")


def _folder() -> str:
    return os.path.join(config.CACHE, "tls", config.key(config.file_digest(os.path.abspath(__file__))))


def materials() -> dict:
    """Paths of ca.pem, server.pem and server.key, made once (atomically) and reused."""
    folder = _folder()
    paths = {"ca": os.path.join(folder, "ca.pem"), "cert": os.path.join(folder, "server.pem"),
             "key": os.path.join(folder, "server.key")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tls-", dir=os.path.dirname(folder))
    blobs = _make()
    for name, blob in blobs.items():
        with open(os.path.join(tmp, os.path.basename(paths[name])), "wb") as f:
            f.write(blob)
    os.chmod(os.path.join(tmp, "server.key"), 0o600)
    try:
        os.rename(tmp, folder)
    except OSError:  # another process made it first
        for n in os.listdir(tmp):
            os.unlink(os.path.join(tmp, n))
        os.rmdir(tmp)
    return paths


def _make() -> dict:
    # pylint: disable=import-outside-toplevel
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gofleet test bed CA (trusted by nothing)")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n) for n in NAMES]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gofleet test bed mirror")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return {
        "ca": ca.public_bytes(pem),
        "cert": cert.public_bytes(pem),
        "key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    }


def server_context() -> ssl.SSLContext:
    paths = materials()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths["cert"], paths["key"])
    return ctx
