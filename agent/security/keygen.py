"""A node key and its CSR, made with `cryptography`.

Run as a script (`python keygen.py CN O SAN`, key PEM then CSR PEM on
stdout) by keys.py, so the agent process itself never imports
`cryptography` (~9 MB it would keep for good) for a key it makes once at
join and again at each renewal. Imports nothing of ours: the script runs
without the package.
"""

from __future__ import annotations

import sys


def make(common_name: str, organization: str, dns_name: str) -> tuple[bytes, bytes]:
    """(key PEM, CSR PEM): an ECDSA P-256 key, a CSR for CN/O with one DNS SAN."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


if __name__ == "__main__":
    k, c = make(*sys.argv[1:4])
    sys.stdout.buffer.write(k + c)
