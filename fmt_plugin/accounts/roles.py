"""Who may do what: the three roles of the practice's accounts.

The GP (`medecin`) makes medical decisions; the medical assistant (`assistant`) works the lists,
letters, recalls and quarantine but cannot record a medical exclusion nor manage accounts; the
IT provider (`admin`) manages accounts and reads the service state and the audit log.
"""

from __future__ import annotations

from enum import StrEnum

from fmt_plugin.rules.model import OverrideKind


class Role(StrEnum):
    """An account's role, as `users add --role` takes it."""

    MEDECIN = "medecin"
    ASSISTANT = "assistant"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        """The French name shown to the practice."""
        return _LABELS[self]

    def may_record(self, kind: OverrideKind) -> bool:
        """True when this role may record a decision of `kind` for a patient.

        A medical exclusion is the GP's alone; refusals, postponements and "fait ailleurs"
        are what an assistant records at the desk or on the phone.
        """
        if kind is OverrideKind.EXCLUSION:
            return self is Role.MEDECIN
        return self in (Role.MEDECIN, Role.ASSISTANT)

    @property
    def may_manage_accounts(self) -> bool:
        """True for the role that adds, disables and unlocks accounts."""
        return self is Role.ADMIN


_LABELS = {
    Role.MEDECIN: "médecin",
    Role.ASSISTANT: "assistant(e) médical(e)",
    Role.ADMIN: "administrateur",
}
