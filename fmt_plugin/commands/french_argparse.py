"""argparse in French: its headings and error messages, and choices spelled in French.

argparse marks its own words for gettext but ships no French catalogue, and the practice's
machines rarely have one installed: `install()` points argparse's translation functions at
the table below. Unknown strings (a later Python's new message) stay in English rather
than fail.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping

from fmt_plugin.accents import without_accents

#: argparse's own strings that a user can see (Python 3.11 to 3.14), and their French.
#: Left out: the messages of a programming error in a parser (conflicting options…).
MESSAGES = {
    "usage: ": "utilisation : ",
    "positional arguments": "arguments",
    "options": "options",
    "optional arguments": "options",
    "show this help message and exit": "afficher cette aide et quitter",
    "show program's version number and exit": "afficher la version et quitter",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "unrecognized arguments: %s": "arguments invalides : %s",
    "invalid choice: %(value)r (choose from %(choices)s)": (
        "choix invalide : %(value)r (choisir parmi %(choices)s)"
    ),
    "invalid choice: %(value)s (choose from %(choices)s)": (
        "choix invalide : %(value)s (choisir parmi %(choices)s)"
    ),
    "invalid %(type)s value: %(value)r": "valeur invalide pour %(type)s : %(value)r",
    "expected one argument": "une valeur attendue",
    "expected at most one argument": "au plus une valeur attendue",
    "expected at least one argument": "au moins une valeur attendue",
    "ambiguous option: %(option)s could match %(matches)s": (
        "option ambiguë : %(option)s peut désigner %(matches)s"
    ),
    "not allowed with argument %s": "incompatible avec l'argument %s",
    "one of the arguments %s is required": "l'un des arguments %s est obligatoire",
    "ignored explicit argument %r": "valeur %r ignorée",
    "unknown parser %(parser_name)r (choices: %(choices)s)": (
        "commande inconnue %(parser_name)r (choix : %(choices)s)"
    ),
    "can't open '%(filename)s': %(error)s": "impossible d'ouvrir « %(filename)s » : %(error)s",
    "unexpected option string: %s": "option inattendue : %s",
    # 3.13: the default title of sub-commands, warnings, defaults, deprecations.
    "subcommands": "commandes",
    "%(prog)s: warning: %(message)s\n": "%(prog)s : avertissement : %(message)s\n",
    " (default: %(default)s)": " (défaut : %(default)s)",
    "argument '%(argument_name)s' is deprecated": (
        "l'argument « %(argument_name)s » est obsolète"
    ),
    "option '%(option)s' is deprecated": "l'option « %(option)s » est obsolète",
    "command '%(parser_name)s' is deprecated": (
        "la commande « %(parser_name)s » est obsolète"
    ),
    # 3.14 with suggest_on_error (the default from 3.15).
    "invalid choice: %(value)r, maybe you meant %(closest)r? (choose from %(choices)s)": (
        "choix invalide : %(value)r, vouliez-vous dire %(closest)r ? "
        "(choisir parmi %(choices)s)"
    ),
}

#: argparse's plural messages: (singular, plural) → French (singular, plural).
PLURALS = {
    ("expected %s argument", "expected %s arguments"): (
        "%s valeur attendue",
        "%s valeurs attendues",
    ),
}


def translate(message: str) -> str:
    """The French of one of argparse's messages, or the message itself."""
    return MESSAGES.get(message, message)


def translate_plural(singular: str, plural: str, count: int) -> str:
    """The French of one of argparse's plural messages, or the English one."""
    french = PLURALS.get((singular, plural), (singular, plural))
    return french[0] if count == 1 else french[1]


def install() -> None:
    """Make argparse speak French in this process (the `fmt-plugin` command's only)."""
    # argparse looks these names up in its module globals at every call.
    argparse._ = translate  # type: ignore[attr-defined]
    argparse.ngettext = translate_plural  # type: ignore[attr-defined]


def folded(text: str) -> str:
    """`text` without accents, in lower case, `_` between words: how a choice is compared.

    `Envoi en cours`, `envoi-en-cours` and `envoi_en_cours` all fold to `envoi_en_cours`.
    """
    bare = without_accents(text.strip()).casefold()
    return "_".join(bare.replace("-", " ").replace("_", " ").split())


class Choice:
    """An argparse `type` for a fixed set of values, spelled in French or in English.

    `spellings` maps each value (what the program uses) to the words accepted for it, the
    first one being the French word shown in help and errors; matching ignores case and
    accents (`envoyé`, `ENVOYE` and `sent` all give `sent`).
    """

    def __init__(self, spellings: Mapping[str, Iterable[str]]) -> None:
        """Accept, for each value, its own name and the given spellings."""
        self.shown: dict[str, str] = {}
        self._values: dict[str, str] = {}
        for value, words in spellings.items():
            words = list(words) or [value]
            self.shown[value] = words[0]
            for word in (*words, value):
                self._values[folded(word)] = value
        self.__name__ = "choix"  # argparse names the type in its messages

    @property
    def metavar(self) -> str:
        """`{envoye,echoue,…}`: the French words, for usage lines."""
        return "{" + ",".join(self.shown.values()) + "}"

    @property
    def words(self) -> str:
        """`envoye, echoue, …`: the French words, for a help text."""
        return ", ".join(self.shown.values())

    def __call__(self, text: str) -> str:
        """The value `text` names; ArgumentTypeError listing the choices otherwise."""
        value = self._values.get(folded(text))
        if value is None:
            raise argparse.ArgumentTypeError(
                f"choix invalide « {text} » (choisir parmi : {self.words})"
            )
        return value

    def label(self, value: str) -> str:
        """The French word of `value`."""
        return self.shown[value]
