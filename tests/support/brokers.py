"""Real Mosquitto brokers for the tests.

* :func:`shared_broker` uses the broker already listening on 127.0.0.1:1883 when there is one
  (as on a developer machine), otherwise starts ``mosquitto`` on a free loopback port.
* :class:`MosquittoBroker` is a broker of the test's own, on a free loopback port with a
  generated config and on-disk persistence, that the test may stop and restart (fault tests).
* :func:`make_tls_broker` adds a mutual-TLS listener (test CA, server and client
  certificates generated at test time, client CN used as the user name), a
  username/password listener, and an ACL file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.service.broker import (  # noqa: F401  (re-exported for the tests)
    LOOPBACK,
    MosquittoBroker,
    free_port,
    mosquitto_binary,
    port_open,
    wait_port,
)


@dataclass(frozen=True)
class SharedBroker:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


# -- TLS -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientCert:
    cn: str
    cert: Path
    key: Path


@dataclass
class TlsBroker:
    broker: MosquittoBroker
    tls_port: int
    password_port: int
    ca: Path
    ca_key: Path
    acl: Path
    users: dict[str, str]
    certs_dir: Path

    @property
    def host(self) -> str:
        return self.broker.host

    def client_cert(self, cn: str) -> ClientCert:
        """A client certificate signed by the test CA; its CN is the MQTT user name."""
        cert, key = self.certs_dir / f"{cn}.crt", self.certs_dir / f"{cn}.key"
        if not cert.exists():
            _issue_cert(self.ca, self.ca_key, cn, cert, key, server=False)
        return ClientCert(cn, cert, key)

    def stop(self) -> None:
        self.broker.stop()


def _new_key():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key, path: Path) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _make_ca(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bx test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    ca.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, ca_key)
    return ca, ca_key


def _issue_cert(ca: Path, ca_key: Path, cn: str, cert_path: Path, key_path: Path, server: bool) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate(ca.read_bytes())
    signer = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    key = _new_key()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                         x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
    cert = builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)


DEFAULT_ACL = """\
# Gateways publish only under their own id, read only their own command topics.
pattern write bx/v1/+/+/%u/#
pattern read bx/v1/cmd/+/%u/#
pattern read bx/v1/in/+/%u/#
# Agencies read only their own audience.
user sps-consumer
topic read bx/v1/sps/#
user cites-consumer
topic read bx/v1/cites/#
user customs-consumer
topic read bx/v1/customs/#
topic read bx/v1/ops/#
"""


def make_server_certificate(directory: Path, cn: str = "localhost") -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it signed, for localhost and 127.0.0.1: ``(ca, cert, key)``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _make_ca(directory)
    cert, key = directory / "server.crt", directory / "server.key"
    _issue_cert(ca, ca_key, cn, cert, key, server=True)
    return ca, cert, key


def make_tls_broker(workdir: Path, users: dict[str, str] | None = None, acl: str = DEFAULT_ACL,
                    client_cns: Sequence[str] = ()) -> TlsBroker:
    """Start a broker with a mutual-TLS listener and a username/password listener sharing one ACL."""
    certs = workdir / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _make_ca(certs)
    _issue_cert(ca, ca_key, "localhost", certs / "server.crt", certs / "server.key", server=True)
    users = users if users is not None else {"gw-a": "pw-a-secret", "sps-consumer": "pw-sps-secret"}
    passwd = workdir / "passwd"
    passwd.write_text("", encoding="utf-8")
    passwd.chmod(0o600)
    for user, password in users.items():
        subprocess.run([_mosquitto_passwd(), "-b", str(passwd), user, password], check=True,
                       capture_output=True)
    acl_file = workdir / "acl"
    acl_file.write_text(acl, encoding="utf-8")
    tls_port, password_port = free_port(), free_port()
    extra = (
        f"acl_file {acl_file}\n"
        f"listener {tls_port} {LOOPBACK}\nallow_anonymous false\n"
        f"cafile {ca}\ncertfile {certs / 'server.crt'}\nkeyfile {certs / 'server.key'}\n"
        f"require_certificate true\nuse_identity_as_username true\nacl_file {acl_file}\n"
        f"listener {password_port} {LOOPBACK}\nallow_anonymous false\n"
        f"password_file {passwd}\nacl_file {acl_file}\n"
    )
    broker = MosquittoBroker(workdir=workdir, extra_config=extra)
    broker.start()
    wait_port(LOOPBACK, tls_port)
    wait_port(LOOPBACK, password_port)
    tls = TlsBroker(broker, tls_port, password_port, ca, ca_key, acl_file, users, certs)
    for cn in client_cns:
        tls.client_cert(cn)
    return tls


def _mosquitto_passwd() -> str:
    for candidate in (shutil.which("mosquitto_passwd"), "/usr/bin/mosquitto_passwd"):
        if candidate and os.path.exists(candidate):
            return candidate
    raise RuntimeError("mosquitto_passwd is not installed (Debian package 'mosquitto')")
