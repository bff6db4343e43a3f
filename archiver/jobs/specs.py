"""What each kind of job is given: kept as JSON with the job, checked when it is submitted.

A job runs later, in another thread or process, as the user who asked: their name goes into
the export's audit event and their account limit (``within``) into its scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from archiver.errors import ArchiverError
from archiver.exports.production import PREFIX_RE
from archiver.exports.redaction import parse_item_redactions
from archiver.jobs.kinds import JobKind
from archiver.store.archive import Archive
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit


def limit_params(limit: AccountLimit) -> list[int] | None:
    return None if limit.account_ids is None else sorted(limit.account_ids)


def limit_of(value: Any) -> AccountLimit:
    return EVERY_ACCOUNT if value is None else AccountLimit.only(int(v) for v in value)


@dataclass(frozen=True)
class OpenRecordsJob:
    """The package for ``request_id`` over its recorded scope; ``redact`` applies the shipped
    redaction rules, ``redact_items`` are ``ITEM_ID:reason`` lines (``--redact-item``)."""

    kind: ClassVar[JobKind] = JobKind.OPEN_RECORDS
    request_id: str
    redact: bool = False
    redact_items: tuple[str, ...] = ()
    pdf: bool = True
    within: AccountLimit = EVERY_ACCOUNT

    @property
    def subject(self) -> str:
        return self.request_id

    def check(self, archive: Archive) -> None:
        """Refuse now what would only fail later: an unknown request, one without a scope,
        a malformed item redaction."""
        from archiver.exports.requests import package_scope

        parse_item_redactions(self.redact_items)
        package_scope(archive, self.request_id, self.within)

    def params(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "redact": self.redact,
                "redact_items": list(self.redact_items), "pdf": self.pdf,
                "within": limit_params(self.within)}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> OpenRecordsJob:
        return cls(request_id=str(params["request_id"]), redact=bool(params.get("redact")),
                   redact_items=tuple(params.get("redact_items") or ()),
                   pdf=bool(params.get("pdf", True)), within=limit_of(params.get("within")))


@dataclass(frozen=True)
class ProductionJob:
    """The items of hold ``hold`` (their whole threads) produced with ``bates_prefix``."""

    kind: ClassVar[JobKind] = JobKind.PRODUCTION
    hold: str
    bates_prefix: str
    within: AccountLimit = EVERY_ACCOUNT

    @property
    def subject(self) -> str:
        return self.hold

    def check(self, archive: Archive) -> None:
        from archiver.retention.holds import hold_detail

        if not PREFIX_RE.match(self.bates_prefix):
            raise ArchiverError(f"Bates prefix {self.bates_prefix!r} must be a letter then up "
                                "to 31 letters, digits or underscores")
        hold_detail(archive, self.hold)

    def params(self) -> dict[str, Any]:
        return {"hold": self.hold, "bates_prefix": self.bates_prefix,
                "within": limit_params(self.within)}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ProductionJob:
        return cls(hold=str(params["hold"]), bates_prefix=str(params["bates_prefix"]),
                   within=limit_of(params.get("within")))


@dataclass(frozen=True)
class PurgeJob:
    """The approved purge as of ``as_of`` (``archiver retention purge --approve``); a purge cut
    short is always finished first."""

    kind: ClassVar[JobKind] = JobKind.PURGE
    as_of: date
    approved_by: str

    @property
    def subject(self) -> str:
        return self.as_of.isoformat()

    def check(self, archive: Archive) -> None:
        if not self.approved_by.strip():
            raise ArchiverError("a purge needs the name of the person approving it")

    def params(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "approved_by": self.approved_by}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PurgeJob:
        return cls(as_of=date.fromisoformat(str(params["as_of"])),
                   approved_by=str(params["approved_by"]))


JobSpec = OpenRecordsJob | ProductionJob | PurgeJob
_SPECS: dict[JobKind, type[OpenRecordsJob] | type[ProductionJob] | type[PurgeJob]] = {
    JobKind.OPEN_RECORDS: OpenRecordsJob, JobKind.PRODUCTION: ProductionJob,
    JobKind.PURGE: PurgeJob}


def spec_of(kind: JobKind, params: dict[str, Any]) -> JobSpec:
    """The spec a stored job was submitted with."""
    return _SPECS[kind].from_params(params)
