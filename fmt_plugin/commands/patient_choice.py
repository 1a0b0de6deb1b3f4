"""Pick one patient among those a search found: ask at a terminal, otherwise say how to choose.

What the practice types is read here and nowhere logged: the list names patients.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from fmt_plugin.errors import UsageError
from fmt_plugin.model import Patient
from fmt_plugin.patient_search import MatchKind, PatientMatches
from fmt_plugin.views.patient_choice import render_choices

PROG = "fmt-plugin"
PROMPT = "Numéro du patient à afficher (Entrée : annuler) : "

#: Why nothing matched, by how the query was read; the query itself is never repeated.
NO_MATCH = {
    MatchKind.ID: "aucun patient avec cet identifiant",
    MatchKind.NIR: "aucun patient avec ce NIR (13 premiers caractères de l'INS)",
    MatchKind.INS: "aucun patient avec ce matricule INS",
    MatchKind.BIRTH_DATE: "aucun patient actif né à cette date",
    MatchKind.NAME: "aucun patient actif avec cet identifiant, ni dont le nom ou le "
    "prénom commence par les mots cherchés",
}


class NoPatientFound(UsageError):
    """A search found nobody; the message says how the query was read, not what it was."""

    def __init__(self, kind: MatchKind) -> None:
        self.kind = kind
        super().__init__(
            f"{NO_MATCH[kind]} (patients sortis : par identifiant ou NIR seulement ; "
            f"patientèle à jour : {PROG} sync)"
        )


class SeveralPatientsFound(UsageError):
    """A search found several patients and there is no terminal to ask which one."""

    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(
            f"{count} patients correspondent à la recherche : relancez avec "
            f"l'identifiant de celui à afficher ({PROG} patient IDENTIFIANT)"
        )


def choose_patient(
    matches: PatientMatches,
    *,
    out: TextIO | None = None,
    ask: Callable[[str], str] | None = None,
) -> Patient | None:
    """The one patient found, or the one the practice picks from the list; None if cancelled.

    With several matches, the list is written to `out`; `ask` (the terminal's `input`)
    reads the number. Without `ask`, raises SeveralPatientsFound after the list; with no
    match at all, raises NoPatientFound.
    """
    if not matches.patients:
        raise NoPatientFound(matches.kind)
    if len(matches.patients) == 1:
        return matches.patients[0]
    out = out or sys.stdout
    out.write(render_choices(matches))
    if ask is None:
        out.flush()
        raise SeveralPatientsFound(len(matches.patients))
    return _ask_number(matches, out, ask)


def terminal_input() -> Callable[[str], str] | None:
    """A question asked at the terminal, when standard input and output are both one.

    None otherwise: there is no one to ask (a script, a pipe, cron).
    """
    if sys.stdin.isatty() and sys.stdout.isatty():
        return _ask_on_stdout
    return None


def _ask_on_stdout(prompt: str) -> str:
    """Like `input`, but the question goes to standard output with the list it is about.

    (`input` at a terminal writes its prompt to standard error, which may be elsewhere.)
    Raises EOFError at the end of input.
    """
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


def _ask_number(
    matches: PatientMatches, out: TextIO, ask: Callable[[str], str]
) -> Patient | None:
    count = len(matches.patients)
    while True:
        try:
            answer = ask(f"\n{PROMPT}").strip()
        except EOFError:  # Ctrl-D: the same as Entrée
            answer = ""
        if not answer:
            out.write("Aucun patient affiché.\n")
            return None
        if answer.isdigit() and 1 <= int(answer) <= count:
            return matches.patients[int(answer) - 1]
        out.write(f"Numéro invalide : de 1 à {count}, ou Entrée pour annuler.\n")
