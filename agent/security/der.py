"""Just enough X.509 reading for an agent start with stored credentials.

The validity, subject and public key of a certificate, read from its DER
with no third-party import: `cryptography` costs the idle agent ~9 MB, so it
is imported only where keys and CSRs are made (joining, renewal). The
signature and key checks go through the standard `ssl` module (store.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass

_OIDS = {"2.5.4.3": "CN", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C",
         "2.5.4.7": "L", "2.5.4.8": "ST"}


class DERError(ValueError):
    """Not a certificate this reader understands."""


def _tlv(data: bytes, pos: int) -> tuple[int, int, int, int]:
    """(tag, start of value, end of value, end of the element) at `pos`."""
    if pos + 2 > len(data):
        raise DERError("truncated DER")
    tag, n = data[pos], data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or pos + k > len(data):
            raise DERError("bad DER length")
        n = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    if pos + n > len(data):
        raise DERError("truncated DER")
    return tag, pos, pos + n, pos + n


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The elements inside a constructed value: (tag, value start, value end, element start)."""
    out = []
    pos = start
    while pos < end:
        tag, vs, ve, nxt = _tlv(data, pos)
        out.append((tag, vs, ve, pos))
        pos = nxt
    return out


def _oid(raw: bytes) -> str:
    if not raw:
        raise DERError("empty OID")
    parts = [raw[0] // 40, raw[0] % 40]
    n = 0
    for b in raw[1:]:
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(n)
            n = 0
    return ".".join(map(str, parts))


def _time(tag: int, raw: bytes) -> dt.datetime:
    s = raw.decode("ascii")
    if tag == 0x17:                                   # UTCTime YYMMDDHHMMSSZ
        year = int(s[:2])
        s = f"{1900 + year if year >= 50 else 2000 + year}{s[2:]}"
    elif tag != 0x18:                                 # GeneralizedTime YYYYMMDDHHMMSSZ
        raise DERError("bad time in validity")
    return dt.datetime.strptime(s, "%Y%m%d%H%M%SZ").replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class CertInfo:
    not_before: dt.datetime
    not_after: dt.datetime
    subject: list[tuple[str, str]]      # (short name or dotted OID, value), in DER order
    spki_der: bytes
    is_ca: bool = False                 # basicConstraints cA

    @property
    def common_name(self) -> str:
        return next((v for k, v in self.subject if k == "CN"), "")

    def rfc4514(self) -> str:
        return ",".join(f"{k}={v}" for k, v in reversed(self.subject))

    def spki_hash(self) -> str:
        """"sha256:<hex>" of the DER SubjectPublicKeyInfo (kubeadm's CA hash)."""
        return "sha256:" + hashlib.sha256(self.spki_der).hexdigest()


def pem_to_der(pem: bytes) -> bytes:
    text = pem.decode("ascii", errors="replace")
    begin = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find("-----END CERTIFICATE-----", begin)
    if begin < 0 or end < 0:
        raise DERError("no PEM certificate")
    body = text[begin + len("-----BEGIN CERTIFICATE-----"):end]
    return base64.b64decode("".join(body.split()))


def read_cert(pem: bytes) -> CertInfo:
    return read_cert_der(pem_to_der(pem))


def read_cert_der(data: bytes) -> CertInfo:
    _, cs, ce, _ = _tlv(data, 0)
    tbs_tag, ts, te, _ = _children(data, cs, ce)[0]
    if tbs_tag != 0x30:
        raise DERError("no TBSCertificate")
    fields = _children(data, ts, te)
    if fields and fields[0][0] == 0xA0:               # [0] version
        fields = fields[1:]
    if len(fields) < 6:
        raise DERError("short TBSCertificate")
    # serial, signature algorithm, issuer, validity, subject, subjectPublicKeyInfo
    _, vs, ve, _ = fields[3]
    nb, na = _children(data, vs, ve)[:2]
    subject: list[tuple[str, str]] = []
    _, ss, se, _ = fields[4]
    for _, rs, re_, _ in _children(data, ss, se):     # SET of AttributeTypeAndValue
        for _, as_, ae, _ in _children(data, rs, re_):
            (_, os_, oe, _), (_, xs, xe, _) = _children(data, as_, ae)[:2]
            oid = _oid(data[os_:oe])
            subject.append((_OIDS.get(oid, oid), data[xs:xe].decode("utf-8", errors="replace")))
    _, _, pe, pstart = fields[5]
    return CertInfo(_time(nb[0], data[nb[1]:nb[2]]), _time(na[0], data[na[1]:na[2]]),
                    subject, data[pstart:pe], _is_ca(data, fields[6:]))


def _is_ca(data: bytes, rest: list[tuple[int, int, int, int]]) -> bool:
    """basicConstraints cA from the [3] extensions, if any."""
    for tag, vs, ve, _ in rest:
        if tag != 0xA3:
            continue
        (_, es, ee, _), = _children(data, vs, ve)[:1]
        for _, xs, xe, _ in _children(data, es, ee):
            parts = _children(data, xs, xe)
            if _oid(data[parts[0][1]:parts[0][2]]) != "2.5.29.19":
                continue
            _, os_, _, _ = parts[-1]                    # extnValue OCTET STRING
            _, bs, be, _ = _tlv(data, os_)              # BasicConstraints SEQUENCE
            inner = _children(data, bs, be)
            return bool(inner and inner[0][0] == 0x01 and data[inner[0][1]] != 0)
    return False
