"""The "Journal" page: the audit chain's verification and its latest entries, for the GP and the IT provider.

The chain is verified on each view (what `fmt-plugin audit verify` does) and the entries are
read newest first, a page at a time going back by sequence number (`?avant=SEQ`), optionally
of one action (`?action=CODE`). Entries hold actors, action codes and internal ids only, so
nothing in those URLs names a patient. The assistant's role is refused the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fmt_plugin.accounts.roles import Role
from fmt_plugin.installation import Installation
from fmt_plugin.storage.audit import AuditEntry, AuditReport
from fmt_plugin.views.audit_log import action_label, audit_time, report_text
from fmt_plugin.web.app import dashboard_of, page
from fmt_plugin.web.sessions import Session

PER_PAGE = 50
#: Longest action code taken from the query string (codes are short dotted words).
MAX_ACTION = 64


def may_read_audit(role: Role) -> bool:
    """The GP and the IT provider read the audit log; the assistant does not."""
    return role in (Role.MEDECIN, Role.ADMIN)


def routes() -> list[BaseRoute]:
    """`/audit` (GET)."""
    return [Route("/audit", page(audit_page, allowed=may_read_audit), methods=["GET"])]


@dataclass(frozen=True)
class AuditRow:
    """One entry as the table shows it."""

    entry: AuditEntry
    when: str
    label: str


@dataclass(frozen=True)
class _Journal:
    report: AuditReport
    entries: list[AuditEntry]
    actions: list[str]


async def audit_page(request: Request, session: Session) -> Response:
    """The verification, the action filter, one page of entries."""
    dashboard = dashboard_of(request)
    action = request.query_params.get("action", "")[:MAX_ACTION] or None
    before = _seq(request.query_params.get("avant"))
    journal = await dashboard.backend.run(_read_journal, before, action)
    rows = [
        AuditRow(e, audit_time(e.at), action_label(e.action)) for e in journal.entries
    ]
    older = None
    if len(journal.entries) == PER_PAGE and journal.entries[-1].seq > 1:
        older = _query(action, journal.entries[-1].seq)
    broken_link = None
    if journal.report.first_broken is not None:
        broken_link = _query(None, journal.report.first_broken + 1)
    return dashboard.render(
        request,
        "audit/index.html",
        report=journal.report,
        report_text=report_text(journal.report),
        broken_link=broken_link,
        rows=rows,
        actions=[(code, action_label(code)) for code in journal.actions],
        action=action or "",
        paged=before is not None,
        newest=_query(action, None),
        older=older,
    )


def _read_journal(
    installation: Installation, before: int | None, action: str | None
) -> _Journal:
    store = installation.store
    return _Journal(
        store.verify_audit(),
        store.audit_entries(before_seq=before, limit=PER_PAGE, action=action),
        store.audit_actions(),
    )


def _query(action: str | None, before: int | None) -> str:
    query = {"action": action} if action else {}
    if before is not None:
        query["avant"] = str(before)
    return "/audit" + (f"?{urlencode(query)}" if query else "")


def _seq(value: str | None) -> int | None:
    if value is None or not value.isdigit():
        return None
    return min(int(value), 2**62)
