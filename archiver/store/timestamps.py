"""RFC 3161 time-stamp tokens: asking an authority for one, and checking one.

A token is the authority's signed statement that a given sha256 existed at its ``genTime``
(https://www.rfc-editor.org/rfc/rfc3161, §2.4; sent over HTTP as in §3.4). The archive asks for a
token over each checkpoint's hash and keeps the DER token beside it; anyone can check it later
with ``openssl ts -verify -digest <checkpoint sha256> -in <token> -token_in -CAfile <ca>``.

:func:`check_token` does what that command does with the token alone: the imprint is the
expected sha256, the signed attributes' message digest is the digest of the signed TSTInfo, the
signature holds under the signer certificate the token carries, and that certificate is for time
stamping (critical extended key usage ``timeStamping``, RFC 3161 §2.3). Given trust anchors
(``ARCHIVER_TSA_CA_FILE``), it also checks that the signer certificate is issued by one of them,
directly or through certificates the token carries.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from archiver.errors import ArchiverError

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
TIMEOUT_SECONDS = 30
_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class TimestampError(ArchiverError):
    """The authority gave no usable token, or a token does not hold."""


@dataclass(frozen=True)
class TokenInfo:
    """What a checked token says: when, by whom, and its serial number."""

    gen_time: datetime
    signer: str  # the signer certificate's subject, RFC 4514 text
    serial: int
    policy: str


def request_token(url: str, sha256_hex: str, *, timeout: float = TIMEOUT_SECONDS) -> bytes:
    """Ask the authority at ``url`` for a token over ``sha256_hex``; return the DER token
    (a CMS ContentInfo) after checking it answers this request."""
    digest = bytes.fromhex(sha256_hex)
    nonce = secrets.randbits(63)
    query = tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce,
        "cert_req": True,
    }).dump()
    # The settings allow only http:// and https:// authorities (archiver.config).
    request = urllib.request.Request(url, data=query, method="POST",  # noqa: S310
                                     headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            body = answer.read()
    except urllib.error.HTTPError as exc:
        raise TimestampError(f"time-stamping authority {url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TimestampError(f"time-stamping authority {url}: {reason}") from None
    try:
        reply = tsp.TimeStampResp.load(body)
        status = reply["status"]["status"].native
        token = reply["time_stamp_token"]
        der = token.dump() if token.native is not None else b""
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError(f"time-stamping authority {url}: not a time-stamp reply ({exc})"
                             ) from None
    if status not in ("granted", "granted_with_mods") or not der:
        text = reply["status"]["status_string"].native
        raise TimestampError(f"time-stamping authority {url}: {status}"
                             + (f": {'; '.join(text)}" if text else ""))
    if _tst_info(der)["nonce"].native != nonce:
        raise TimestampError(f"time-stamping authority {url}: the token answers another request")
    check_token(der, sha256_hex)
    return der


def _signed_data(der: bytes) -> cms.SignedData:
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise TimestampError("time-stamp token: not CMS signed data")
        data: cms.SignedData = info["content"]
        data.native  # noqa: B018 (parses the whole structure now, so damage shows here)
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError(f"time-stamp token: cannot be read ({exc})") from None
    return data


def _tst_info(der: bytes) -> tsp.TSTInfo:
    encap = _signed_data(der)["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise TimestampError("time-stamp token: does not hold a TSTInfo")
    info: tsp.TSTInfo = encap["content"].parsed
    return info


def check_token(der: bytes, sha256_hex: str,
                trust_anchors: list[x509.Certificate] | None = None) -> TokenInfo:
    """Check a DER token against ``sha256_hex`` (see the module's docstring); return what it
    says, or raise :class:`TimestampError` naming what does not hold."""
    data = _signed_data(der)
    encap = data["encap_content_info"]
    tst = _tst_info(der)
    imprint = tst["message_imprint"]
    if (imprint["hash_algorithm"]["algorithm"].native != "sha256"
            or imprint["hashed_message"].native != bytes.fromhex(sha256_hex)):
        raise TimestampError("time-stamp token: its message imprint is not the checkpoint's hash")
    signers = data["signer_infos"]
    if len(signers) != 1:
        raise TimestampError("time-stamp token: not exactly one signer")
    signer = signers[0]
    certs = [c.chosen for c in data["certificates"] if c.name == "certificate"]
    cert = _signer_cert(signer, certs)
    digest_name = signer["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        raise TimestampError(f"time-stamp token: unsupported digest {digest_name}")
    attrs = signer["signed_attrs"]
    found = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
    content = encap["content"].contents
    if found != [hashlib.new(digest_name, content).digest()]:
        raise TimestampError("time-stamp token: the signed digest is not the TSTInfo's")
    signed = b"\x31" + attrs.dump()[1:]  # signed over as a SET OF, not as the [0] field
    public = x509.load_der_x509_certificate(cert.dump())
    _check_signature(public, signer["signature"].native, signed, _HASHES[digest_name]())
    _check_time_stamping(public)
    if trust_anchors is not None:
        _check_issued(public, [x509.load_der_x509_certificate(c.dump()) for c in certs],
                      trust_anchors)
    return TokenInfo(gen_time=tst["gen_time"].native, signer=public.subject.rfc4514_string(),
                     serial=int(tst["serial_number"].native), policy=tst["policy"].dotted)


def _signer_cert(signer: cms.SignerInfo, certs: list[cms.Certificate]) -> cms.Certificate:
    sid = signer["sid"]
    for cert in certs:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (cert.serial_number == wanted["serial_number"].native
                    and cert.issuer == wanted["issuer"]):
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    raise TimestampError("time-stamp token: does not carry its signer's certificate "
                         "(request it with certReq)")


def _check_signature(cert: x509.Certificate, signature: bytes, data: bytes,
                     algorithm: hashes.HashAlgorithm) -> None:
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise TimestampError("time-stamp token: unsupported signer key type")
    except InvalidSignature:
        raise TimestampError("time-stamp token: the signature does not hold") from None


def _check_time_stamping(cert: x509.Certificate) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        eku = None
    if eku is None or not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise TimestampError("time-stamp token: its signer is not a time-stamping certificate "
                             "(critical extended key usage timeStamping)")


def _check_issued(cert: x509.Certificate, carried: list[x509.Certificate],
                  anchors: list[x509.Certificate]) -> None:
    current = cert
    for _ in range(len(carried) + 1):
        for anchor in anchors:
            try:
                current.verify_directly_issued_by(anchor)
                return
            except (ValueError, TypeError, InvalidSignature):
                continue
        parent = next((c for c in carried if c != current and c.subject == current.issuer), None)
        if parent is None:
            break
        current = parent
    raise TimestampError("time-stamp token: its signer is not issued by a trusted authority "
                         "(ARCHIVER_TSA_CA_FILE)")


def load_anchors(pem: bytes) -> list[x509.Certificate]:
    """The certificates of a PEM file (the trusted time-stamping roots)."""
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise TimestampError(f"ARCHIVER_TSA_CA_FILE: not PEM certificates ({exc})") from None
