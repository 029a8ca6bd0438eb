"""Development mesh certificates: one CA and a certificate per mesh identity, in an ignored folder.

``make run`` and the test stacks call :func:`ensure_certs` (as they do for the dev signing keys):
every hop inside the mesh is mutually authenticated TLS, Envoy → service and service → service.
Each certificate's common name is the identity a service authorizes callers by
(``services.common.peer_auth``); its DNS names are that name and ``localhost``, plus the loopback
IP, so the same files work for local processes and for compose/Kubernetes service names.
Production mounts certificates from its own CA; nothing here is used there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tools.devkeys import write_private_key

# The services, the gateway (Envoy's client certificate) and an operator identity (grpcurl:
# health and reflection on a service port).
IDENTITIES = ("identity", "billing", "commerce", "support", "gateway", "operator")
CA_CERT, CA_KEY = "ca.pem", "ca-key.pem"
VALIDITY = dt.timedelta(days=365)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "portal-mesh development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


_CA_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
    encipher_only=False, decipher_only=False,
)  # fmt: skip
_LEAF_USAGE = x509.ExtendedKeyUsage(
    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
)


def _ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = folder / CA_CERT, folder / CA_KEY
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("portal-mesh dev CA"))
        .issuer_name(_name("portal-mesh dev CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .sign(key, hashes.SHA256())
    )
    write_private_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def issue(folder: Path, name: str, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]) -> None:
    """``<name>.pem`` / ``<name>-key.pem``: CN and DNS name ``name``, server and client use."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName(name),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(san, critical=False)
        .add_extension(_LEAF_USAGE, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_private_key(folder / f"{name}-key.pem", key)
    (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_certs(folder: Path) -> Path:
    """Create the CA and every identity's certificate in ``folder`` unless they exist."""
    folder.mkdir(parents=True, exist_ok=True)
    new_ca = not (folder / CA_CERT).exists() or not (folder / CA_KEY).exists()
    ca = _ca(folder)
    for name in IDENTITIES:
        present = (folder / f"{name}.pem").exists() and (folder / f"{name}-key.pem").exists()
        if new_ca or not present:  # a new CA re-issues every certificate under it
            issue(folder, name, ca)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(".run/certs"))
    print(ensure_certs(parser.parse_args().dir))


if __name__ == "__main__":
    main()
