"""What every PDF the archive writes says about itself, aiming at PDF/A-2b (ISO 19005-2, level B).

Each PDF names its title, the agency (``ARCHIVER_AGENCY_NAME``) as author, the archiver and its
version as creator and producer, and the time it was made (from the archive's clock, so a fixed
clock gives the same bytes every time). The same facts are in the document information dictionary
and in an XMP metadata packet that also claims PDF/A-2b.

What PDF/A-2b asks, and how this stands (ReportLab has no PDF/A mode; nothing here is checked by
a PDF/A validator, since none is available from the package registries this project uses):

* metadata: XMP packet, uncompressed, with ``pdfaid:part`` 2 and ``pdfaid:conformance`` B, its
  values equal to the information dictionary's: met;
* fonts: every font embedded (DejaVu Sans subsets; the canvas's initial font is DejaVu too, so
  no base-14 Helvetica is referenced), and no character drawn with the missing glyph
  (:mod:`archiver.pdf.text` marks those instead): met;
* colour: an sRGB output intent with its ICC profile embedded (``pdf/assets/sRGB.icc``), which
  covers the DeviceRGB and DeviceGray that text and most images use: met; a CMYK JPEG in a
  captured post would be drawn in DeviceCMYK, which an sRGB intent does not cover: not met for
  such an image;
* file structure: a file identifier, no encryption, no JavaScript, no embedded files: met;
* tagged structure (logical reading order for assistive technology, needed by level A and by
  PDF/UA, not by level B): ReportLab writes no structure tree, so the PDFs are untagged.

ReportLab offers no call for a catalog's ``Metadata`` and ``OutputIntents`` entries, so
:func:`describe` sets them on its document object (``canvas._doc``) directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import reportlab
from reportlab.pdfbase.pdfdoc import (
    XMP,
    PDFArray,
    PDFDictionary,
    PDFName,
    PDFStream,
    PDFString,
    PDFZCompress,
)
from reportlab.pdfgen.canvas import Canvas

from archiver import __version__

if TYPE_CHECKING:
    from archiver.store.archive import Archive

ASSETS = Path(__file__).parent / "assets"
SRGB_PROFILE = ASSETS / "sRGB.icc"
CREATOR = f"archiver {__version__}"
PRODUCER = f"{CREATOR} (ReportLab {reportlab.Version})"
_SRGB = "sRGB IEC61966-2.1"


@dataclass(frozen=True)
class DocumentInfo:
    """Who made a PDF and when: ``agency`` is named as its author, ``created`` (timezone-aware,
    from the archive's clock) is its creation date, ``subject`` says what the document is."""

    agency: str
    created: datetime
    subject: str = ""


def document_info(archive: Archive, subject: str, *, agency: str | None = None,
                  at: datetime | None = None) -> DocumentInfo:
    """The :class:`DocumentInfo` of a PDF made now by ``archive`` (its clock, in the agency's
    time zone); ``agency`` overrides the configured agency name, ``at`` the clock."""
    moment = at if at is not None else archive.clock()
    return DocumentInfo(agency=agency or archive.settings.agency_name,
                        created=moment.astimezone(archive.settings.tz), subject=subject)


def _plain(text: str) -> str:
    """``text`` fit for metadata: one line, no control characters, no lone surrogates."""
    return "".join(" " if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000
                   or c in "\ufffe\uffff" else c for c in text).strip()


def _pdf_date(moment: datetime) -> str:
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return (f"D:{moment:%Y%m%d%H%M%S}{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'")


def _xmp_date(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def _xmp(title: str, about: DocumentInfo) -> bytes:
    when = _xmp_date(about.created)
    fields = {key: escape(value) for key, value in (
        ("title", title), ("agency", _plain(about.agency)), ("subject", _plain(about.subject)))}
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{fields["title"]}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{fields["agency"]}</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{fields["subject"]}</rdf:li></rdf:Alt></dc:description>
   <xmp:CreatorTool>{CREATOR}</xmp:CreatorTool>
   <xmp:CreateDate>{when}</xmp:CreateDate>
   <xmp:ModifyDate>{when}</xmp:ModifyDate>
   <xmp:MetadataDate>{when}</xmp:MetadataDate>
   <pdf:Producer>{escape(PRODUCER)}</pdf:Producer>
   <pdf:Keywords></pdf:Keywords>
   <pdf:Trapped>False</pdf:Trapped>
   <pdfaid:part>2</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()  # noqa: E501 - the XMP is easier to check as written


def describe(canvas: Canvas, title: str, about: DocumentInfo) -> None:
    """Set the information dictionary, the XMP metadata and the sRGB output intent of the PDF
    that ``canvas`` (made with ``invariant=1``) will write."""
    title = _plain(title)
    canvas.setTitle(title)
    canvas.setAuthor(_plain(about.agency))
    canvas.setSubject(_plain(about.subject))
    canvas.setCreator(CREATOR)
    canvas.setProducer(PRODUCER)
    canvas.setKeywords("")
    # ``invariant`` fixes ReportLab's own time stamp (and the file identifier made from it);
    # the date written is the export time given, so a fixed clock still gives fixed bytes.
    stamp = _pdf_date(about.created)
    canvas.setDateFormatter(lambda *_ymdhms: stamp)
    canvas.setViewerPreference("DisplayDocTitle", "true")
    doc = canvas._doc  # noqa: SLF001 - no public call sets these catalog entries
    doc.updateSignature(stamp)  # two exports at different times get different identifiers
    catalog = doc.Catalog
    xmp = _xmp(title, about)
    catalog.Metadata = XMP(creator=lambda _doc: xmp)
    profile = PDFStream(PDFDictionary({"N": 3}), SRGB_PROFILE.read_bytes(), [PDFZCompress])
    intent = PDFDictionary({
        "Type": PDFName("OutputIntent"), "S": PDFName("GTS_PDFA1"),
        "OutputConditionIdentifier": PDFString(_SRGB), "Info": PDFString(_SRGB),
        "RegistryName": PDFString("http://www.color.org"),
        "DestOutputProfile": doc.Reference(profile),
    })
    catalog.OutputIntents = PDFArray([intent])
    # PDFCatalog writes only the entries it lists; these two lists are read per instance.
    catalog.__NoDefault__ = [*catalog.__NoDefault__, "OutputIntents"]
    catalog.__Refs__ = [*catalog.__Refs__, "OutputIntents"]
