"""State rebuilt from the record after SIGKILL (open requests, pending acks, auto distress),
and the service over TLS when given a certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from service_support import Server, agreement_text, issue_keys
from sharedsky.client import Client

pytestmark = pytest.mark.timeout(120)


def test_open_requests_and_pending_acks_survive_sigkill(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(agreement_text(ack_within_s=3.0))
    keys = issue_keys(tmp_path / "s.db")
    srv = Server(tmp_path / "a.toml", tmp_path / "s.db").start()
    try:
        blue, red = Client(srv.url, keys.blue), Client(srv.url, keys.red)
        req = blue.request("red", "hold west of the line", time.time() + 3.0)
        call = red.distress("bb0009", 35, 36, "hydraulics")
        blue.push_reports([{"timestamp": time.time(), "icao24": "aa0770", "latitude": 34, "longitude": 38,
                            "altitude": 9000, "squawk": "7700"}])
        time.sleep(1.5)
        auto = [e for e in red.events() if e["kind"] == "distress" and e["auto"]]
        assert len(auto) == 1
        srv.kill()
        srv.start()
        # The restarted service still owes the overdue and unacknowledged events ...
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            evs = blue.events()
            overdue = [e for e in evs if e["kind"] == "overdue" and e["request_seq"] == req]
            unack = [e for e in evs if e["kind"] == "unacknowledged" and e["of_seq"] == call]
            if overdue and unack:
                break
            time.sleep(0.2)
        assert len(overdue) == 1 and [e["party"] for e in unack] == ["blue"]
        # ... and does not call the same distress episode again.
        blue.push_reports([{"timestamp": time.time(), "icao24": "aa0770", "latitude": 34, "longitude": 38,
                            "altitude": 9000, "squawk": "7700"}])
        time.sleep(1.5)
        assert len([e for e in red.events() if e["kind"] == "distress" and e["auto"]]) == 1
        # Sequence numbers went on from the record.
        seqs = [e["seq"] for e in blue.events()]
        assert seqs == sorted(set(seqs))
    finally:
        srv.stop()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cp, kp = tmp_path / "cert.pem", tmp_path / "key.pem"
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    return cp, kp


def test_tls_when_given_a_certificate(tmp_path: Path) -> None:
    import ssl

    import httpx

    cert, key = _self_signed(tmp_path)
    (tmp_path / "a.toml").write_text(agreement_text())
    keys = issue_keys(tmp_path / "s.db")
    srv = Server(tmp_path / "a.toml", tmp_path / "s.db", "--cert", str(cert), "--key", str(key))
    srv.url = srv.url.replace("http://", "https://")
    # Server.start polls with plain httpx; poll over TLS here instead.
    import subprocess
    import sys

    srv.proc = subprocess.Popen([sys.executable, "-m", "sharedsky.cli", "serve", "--agreement", str(srv.agreement),
                                 "--db", str(srv.db), "--port", str(srv.port), "--cert", str(cert), "--key", str(key)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            try:
                httpx.get(srv.url + "/api/v1/me", verify=ssl.create_default_context(cafile=str(cert)), timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        c = Client(srv.url, keys.blue, verify=str(cert))
        assert c.me()["party"] == "blue"
        seq = c.distress("aa0001", 35, 36, "over TLS")
        ev = next(c.stream(after=seq - 1, idle_timeout_s=5))
        assert ev["seq"] == seq
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not served
            httpx.get(srv.url.replace("https://", "http://") + "/api/v1/me", timeout=2)
    finally:
        srv.stop()
