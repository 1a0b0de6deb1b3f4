"""One page of an indicator's list: search, status filter, sort and paging, in memory (pure).

The query string holds only what is safe in a URL (status, sort column, order, page); the
search text comes from the session. Rows without a sort value (no birth date, no due date,
no act) go last in both orders: an assistant sorting by due date wants the dated rows first.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal
from urllib.parse import urlencode

from fmt_plugin.rules.model import Status
from fmt_plugin.status_changes import KnownStatus
from fmt_plugin.web.listing import ListedPatient, search_words

PAGE_SIZE = 50
SortKey = Literal["nom", "prenom", "age", "nir", "statut", "echeance", "dernier_acte"]
SORT_KEYS: tuple[SortKey, ...] = (
    "nom",
    "prenom",
    "age",
    "nir",
    "statut",
    "echeance",
    "dernier_acte",
)
Order = Literal["asc", "desc"]
DEFAULT_SORT: SortKey = "nom"
#: The order of the statut column: what there is to do first.
STATUS_ORDER = {
    Status.A_VERIFIER.value: 0,
    Status.A_VENIR.value: 1,
    Status.FAIT.value: 2,
    Status.EXCLU.value: 3,
}

Row = tuple[ListedPatient, KnownStatus]


@dataclass(frozen=True)
class ListParams:
    """What the list's URL asks for; anything unknown falls back to the default."""

    statut: str | None = None
    tri: SortKey = DEFAULT_SORT
    ordre: Order = "asc"
    page: int = 1

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> ListParams:
        """The parameters of a query string, unknown values ignored, the page at least 1."""
        statut = query.get("statut")
        tri = query.get("tri", DEFAULT_SORT)
        ordre = query.get("ordre", "asc")
        try:
            page = int(query.get("page", "1"))
        except ValueError:
            page = 1
        return cls(
            statut=statut if statut in STATUS_ORDER else None,
            tri=_sort_key(tri),
            ordre="desc" if ordre == "desc" else "asc",
            page=max(1, min(page, 1_000_000)),
        )

    def query(self, **changes: Any) -> str:
        """`?statut=…&tri=…`: these parameters with `changes`, defaults left out."""
        changed = replace(self, **changes)
        pairs: list[tuple[str, str]] = []
        if changed.statut is not None:
            pairs.append(("statut", changed.statut))
        if changed.tri != DEFAULT_SORT:
            pairs.append(("tri", changed.tri))
        if changed.ordre != "asc":
            pairs.append(("ordre", changed.ordre))
        if changed.page != 1:
            pairs.append(("page", str(changed.page)))
        return "?" + urlencode(pairs) if pairs else ""

    def sorted_by(self, key: SortKey) -> str:
        """The query of a column header: that column ascending, or reversed if current."""
        ordre: Order = "desc" if key == self.tri and self.ordre == "asc" else "asc"
        return self.query(tri=key, ordre=ordre, page=1)


@dataclass(frozen=True)
class ListRow:
    """One line of the list: the patient, their status for the indicator, their age."""

    patient: ListedPatient
    known: KnownStatus
    age: int | None


@dataclass(frozen=True)
class ListPage:
    """The rows of one page, where it is among the pages, and the counts around it."""

    rows: list[ListRow]
    params: ListParams
    pages: int
    #: Rows after the search and the status filter.
    total: int
    #: Rows after the search, by status (the filter's counts).
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def searched(self) -> int:
        """Rows after the search, whatever their status."""
        return sum(self.counts.values())

    @property
    def first(self) -> int:
        """The 1-based rank of the page's first row (0 when empty)."""
        return (self.params.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        """The 1-based rank of the page's last row (0 when empty)."""
        return self.first + len(self.rows) - 1 if self.rows else 0


def list_page(
    rows: Iterable[Row],
    params: ListParams,
    *,
    today: date,
    search: str = "",
    page_size: int = PAGE_SIZE,
) -> ListPage:
    """The page `params` asks for, of `rows` matching `search` (a page past the end: the last)."""
    words = search_words(search)
    found = [row for row in rows if row[0].matches(words)] if words else list(rows)
    counts = Counter(known.status for _, known in found)
    if params.statut is not None:
        found = [row for row in found if row[1].status == params.statut]
    ordered = sort_rows(found, params.tri, params.ordre)
    pages = max(1, math.ceil(len(ordered) / page_size))
    current = replace(params, page=min(params.page, pages))
    start = (current.page - 1) * page_size
    shown = [
        ListRow(patient, known, patient.age(today))
        for patient, known in ordered[start : start + page_size]
    ]
    return ListPage(
        shown,
        current,
        pages,
        len(ordered),
        {status: counts.get(status, 0) for status in STATUS_ORDER},
    )


def sort_rows(rows: list[Row], key: SortKey, order: Order) -> list[Row]:
    """`rows` by `key` then by name; rows without a value for `key` last, by name."""
    value = _VALUES[key]
    # Sorted by name first, then by the column: Python's sort is stable (in reverse too),
    # so rows equal on the column stay in name order.
    by_name = sorted(rows, key=lambda row: row[0].sort_name)
    if key == "nom":
        return by_name[::-1] if order == "desc" else by_name
    dated = [(value(row), row) for row in by_name]
    known = [pair for pair in dated if pair[0] is not None]
    known.sort(key=lambda pair: pair[0], reverse=order == "desc")
    return [row for _, row in known] + [row for v, row in dated if v is None]


def _sort_key(text: str) -> SortKey:
    for key in SORT_KEYS:
        if key == text:
            return key
    return DEFAULT_SORT


def _birth(row: Row) -> Any:
    # Age ascending is the youngest first: the latest birth date first.
    born = row[0].birth_date
    return -born.toordinal() if born is not None else None


_VALUES: dict[str, Callable[[Row], Any]] = {
    "nom": lambda row: row[0].sort_name,
    "prenom": lambda row: (row[0].sort_name[1], row[0].sort_name[0]),
    "age": _birth,
    "nir": lambda row: row[0].ins or None,
    "statut": lambda row: (STATUS_ORDER.get(row[1].status, 9), row[1].catch_up),
    "echeance": lambda row: row[1].due,
    "dernier_acte": lambda row: row[1].last_act,
}
