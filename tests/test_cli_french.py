"""The command line speaks French: argparse's own words, choices and dates as typed in France."""

from __future__ import annotations

import argparse
from datetime import date

import pytest

from fmt_plugin.cli import build_parser, main
from fmt_plugin.commands.french_argparse import Choice
from fmt_plugin.commands.invocation import iso_date_argument


def test_help_headings_are_in_french(capsys):
    """`--help` prints "utilisation" and French option help."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("utilisation : fmt-plugin")
    assert "afficher cette aide et quitter" in out
    assert "show this help" not in out


def test_an_unknown_option_is_reported_in_french(capsys):
    """argparse's "unrecognized arguments" becomes "arguments invalides"."""
    with pytest.raises(SystemExit) as exited:
        main(["report", "--bogus"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "fmt-plugin : erreur : arguments invalides : --bogus" in err


def test_a_missing_argument_is_reported_in_french(capsys):
    """argparse's "the following arguments are required" is translated."""
    with pytest.raises(SystemExit):
        main(["init"])
    assert "arguments obligatoires manquants : DOSSIER" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["2026-03-15", "15/03/2026", " 15/03/2026 "])
def test_dates_are_accepted_in_iso_or_french_form(text):
    """AAAA-MM-JJ and JJ/MM/AAAA both name 15 March 2026."""
    assert iso_date_argument(text) == date(2026, 3, 15)


@pytest.mark.parametrize("text", ["9999-01-01", "1899-12-31", "01/01/2101"])
def test_dates_outside_1900_2100_are_refused_with_the_range(text):
    """A year like 9999 is a usage error naming the accepted range."""
    with pytest.raises(argparse.ArgumentTypeError, match="entre le 01/01/1900"):
        iso_date_argument(text)


@pytest.mark.parametrize("text", ["2026-02-30", "15/03/26", "demain"])
def test_malformed_dates_name_both_accepted_forms(text):
    """The message says AAAA-MM-JJ or JJ/MM/AAAA."""
    with pytest.raises(argparse.ArgumentTypeError, match="AAAA-MM-JJ ou JJ/MM/AAAA"):
        iso_date_argument(text)


def test_as_of_year_9999_is_a_usage_error_not_an_internal_error(capsys):
    """The command exits 2 with the range, before opening anything."""
    with pytest.raises(SystemExit) as exited:
        main(["report", "--as-of", "9999-01-01"])
    assert exited.value.code == 2
    assert "date hors limites" in capsys.readouterr().err


STATES = Choice({"sent": ["envoye", "envoyé"], "failed": ["echoue", "échoué"]})


@pytest.mark.parametrize("text", ["envoye", "envoyé", "ENVOYÉ", "sent", "Sent"])
def test_a_choice_accepts_french_and_english_in_any_case_and_accents(text):
    """French first, English still accepted, case and accents ignored."""
    assert STATES(text) == "sent"


def test_an_unknown_choice_lists_the_french_words():
    """The error shows what to type, in French."""
    with pytest.raises(argparse.ArgumentTypeError, match="envoye, echoue"):
        STATES("parti")


def test_a_choice_shows_its_french_words_as_metavar():
    """The usage line shows {envoye,echoue}."""
    assert STATES.metavar == "{envoye,echoue}"
    assert STATES.label("failed") == "echoue"
