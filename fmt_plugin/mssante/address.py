"""MSSanté addresses: check a mailbox address and derive a patient's from the roster or the INS.

A patient's Mon espace santé mailbox is `<matricule INS>@patient.mssante.fr`; only a qualified
INS may be used, so an unqualified or malformed one gives no address rather than a guess.
Nothing here logs or quotes an address: it identifies a patient.
"""

from __future__ import annotations

import re
import string

from fmt_plugin.ins import InvalidIns, check_ins
from fmt_plugin.model import Patient

DEFAULT_ADDRESS_TEMPLATE = "{ins}@patient.mssante.fr"

# A dot-atom local part and a dotted host name: MSSanté mailboxes are plain ASCII
# (`dupont@ch-xyz.mssante.fr`), and refusing more exotic forms keeps SMTPUTF8 and quoting out.
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
# A valid matricule (control key included) to try a template with.
_SAMPLE_INS = "146026322000196"


class TemplateError(ValueError):
    """An address template is unusable; the message says why (it never holds patient data)."""


def is_address(value: str) -> bool:
    """True when `value` is a plain `local@domain.tld` mailbox address."""
    return _ADDRESS.fullmatch(value) is not None


def check_template(template: str) -> str:
    """`template` when it has `{ins}` as its only field and yields an address; else raise.

    Raises `TemplateError` naming the offending field, never a patient's data.
    """
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as exc:
        raise TemplateError(f"accolades mal formées ({exc})") from exc
    for name, spec, conversion in fields:
        if name != "ins" or spec or conversion:
            raise TemplateError(f"champ {{{name}}} inconnu : seul {{ins}} est permis")
    if not fields:
        raise TemplateError("le champ {ins} manque")
    if not is_address(template.format(ins=_SAMPLE_INS)):
        raise TemplateError("le résultat n'est pas une adresse de messagerie")
    return template


def patient_address(
    patient: Patient, template: str = DEFAULT_ADDRESS_TEMPLATE
) -> str | None:
    """The patient's MSSanté address, or None when there is none to use.

    The roster's `mssante` column wins when it holds a well-formed address; otherwise the
    `template` filled with the qualified INS. A malformed column falls back to the INS: that
    address is the patient's own Mon espace santé mailbox, so it cannot reach someone else.
    """
    if patient.mssante:
        explicit = patient.mssante.strip()
        if is_address(explicit):
            return explicit
    if not patient.ins:
        return None
    try:
        ins = check_ins(patient.ins)
    except InvalidIns:
        return None
    return template.format(ins=ins)
