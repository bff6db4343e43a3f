"""PAdES signatures on the certificates: made with a generated agency key, timestamped by the
loopback authority, and valid to pyHanko's validator."""

from __future__ import annotations

import io
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from archiver.config import load_settings
from archiver.errors import ConfigError
from archiver.pdf.meta import DocumentInfo
from archiver.pdf.signing import sign_certificate
from archiver.pdf.writer import text_pdf
from tests.support.database import settings_in
from tests.support.tsa import TsaServer

ABOUT = DocumentInfo(agency="Springfield PD", created=datetime(2026, 1, 2, tzinfo=UTC),
                     subject="test")


def agency_key(folder: Path) -> tuple[Path, Path]:
    """A generated agency key and its self-signed certificate (key, cert)."""
    key, cert = folder / "agency.key", folder / "agency.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "30", "-subj", "/CN=Springfield PD",
                    "-addext", "keyUsage=critical,digitalSignature,nonRepudiation"],
                   check=True, capture_output=True, timeout=60)
    return key, cert


def test_certificate_pdf_is_signed_and_timestamped(tmp_path: Path) -> None:
    key, cert = agency_key(tmp_path)
    pdf = text_pdf("Certificate", ["line"], about=ABOUT, signature=True)
    base = settings_in(tmp_path / "home", "sqlite:///x")
    assert sign_certificate(pdf, base, reason="test") == pdf  # no key: as written

    with TsaServer() as tsa:
        settings = replace(base, signing_key=key, signing_cert=cert, tsa_url=tsa.url)
        signed = sign_certificate(pdf, settings, reason="Certificate of authenticity")
        roots = [load_cert_from_pemder(str(cert)), load_cert_from_pemder(str(tsa.ca_pem))]
    assert signed.startswith(pdf)  # an incremental update: the document as written stays
    reader = PdfFileReader(io.BytesIO(signed))
    (embedded,) = reader.embedded_signatures
    status = validate_pdf_signature(embedded, ValidationContext(trust_roots=roots))
    assert status.intact and status.valid and status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.valid


def test_key_without_certificate_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ARCHIVER_SIGNING_KEY and ARCHIVER_SIGNING_CERT"):
        load_settings({"ARCHIVER_HOME": str(tmp_path), "ARCHIVER_SIGNING_KEY": "k.pem"})
