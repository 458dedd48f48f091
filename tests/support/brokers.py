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
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"


def mosquitto_binary() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if candidate and os.path.exists(candidate):
            return candidate
    raise RuntimeError("mosquitto is not installed: run ./run.sh test (it installs it with apt-get)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port, 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


@dataclass
class MosquittoBroker:
    """A mosquitto process of the test's own; ``stop()``/``start()`` keep port and data."""

    workdir: Path
    port: int = field(default_factory=free_port)
    host: str = LOOPBACK
    extra_config: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        # As root, mosquitto would drop to user 'mosquitto', which cannot read our temp files.
        user = "user root\n" if os.geteuid() == 0 else ""
        self.config_file.write_text(
            f"{user}per_listener_settings true\n"
            f"persistence true\npersistence_location {data}/\nautosave_interval 1\n"
            f"log_dest file {self.workdir / 'mosquitto.log'}\nlog_type all\n"
            f"listener {self.port} {self.host}\nallow_anonymous true\n"
            f"{self.extra_config}\n",
            encoding="utf-8",
        )

    def start(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.write_config()
        self.process = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.config_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            wait_port(self.host, self.port, timeout)
        except TimeoutError:
            self.stop()
            log = (self.workdir / "mosquitto.log")
            raise RuntimeError(f"mosquitto did not start: {log.read_text() if log.exists() else ''}") from None

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


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
