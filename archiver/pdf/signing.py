"""The agency's digital signature on its certificates (PAdES, with pyHanko).

When ``ARCHIVER_SIGNING_KEY`` and ``ARCHIVER_SIGNING_CERT`` name a PEM private key (unencrypted,
readable only by the archiver's user) and its certificate, the destruction certificate and the
certificate of authenticity are signed as PAdES baseline signatures (ETSI EN 319 142-1;
``ETSI.CAdES.detached``), with a signature timestamp from ``ARCHIVER_TSA_URL`` when one is set.
The signature is an incremental update, so the document and its PDF/A metadata stay as written;
any PAdES validator (Adobe Reader, ``pyhanko sign validate``) checks it. Without a key the PDF is
returned as it is, ready for the custodian's handwritten signature alone.
"""

from __future__ import annotations

import io

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

from archiver.config import Settings
from archiver.errors import ConfigError

FIELD_NAME = "AgencySignature"
TSA_TIMEOUT_SECONDS = 30


def sign_certificate(pdf: bytes, settings: Settings, *, reason: str) -> bytes:
    """``pdf`` signed with the agency's key (see the module's docstring), or ``pdf`` as it is
    when no key is configured."""
    if settings.signing_key is None or settings.signing_cert is None:
        return pdf
    signer = signers.SimpleSigner.load(str(settings.signing_key), str(settings.signing_cert))
    if signer is None:
        raise ConfigError(f"ARCHIVER_SIGNING_KEY: cannot load the key {settings.signing_key} "
                          f"with the certificate {settings.signing_cert} (unencrypted PEM?)")
    timestamper = (RequestsHTTPTimeStamper(settings.tsa_url, timeout=TSA_TIMEOUT_SECONDS)
                   if settings.tsa_url else None)
    meta = signers.PdfSignatureMetadata(field_name=FIELD_NAME, reason=reason,
                                        name=settings.agency_name, md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer,
                           timestamper=timestamper)
    return out.getvalue()
