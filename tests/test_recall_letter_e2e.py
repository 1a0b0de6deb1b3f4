"""The letters as a practice gets them: `init --doctor`, `recalls run` into the file outbox, `check-config`."""

from __future__ import annotations

import asyncio
import email
import email.policy
from pathlib import Path

import pytest
from recall_data import CREATED_AT, recall_message

from fmt_plugin.errors import TemporaryChannelError
from fmt_plugin.recalls.file_channel import FileChannel
from fmt_plugin.recalls.letter import Letters
from fmt_plugin.recalls.model import DueItem, RecallMessage
from fmt_plugin.rules.model import Status

AS_OF = "2026-03-15"
DOCTOR = "Dr Marie Martin"
PHONE = "01 23 45 67 89"
NBSP = "\u00a0"
FLU = DueItem("vacc_grippe", "Vaccination grippe", "saison-2025", 1, Status.A_VERIFIER)


def read_eml(path: Path) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def plain(letter: email.message.EmailMessage) -> str:
    part = letter.get_body(("plain",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n").replace(NBSP, " ")


def html(letter: email.message.EmailMessage) -> str:
    part = letter.get_body(("html",))
    assert part is not None
    return part.get_content().replace(NBSP, " ")


@pytest.fixture
def practice(run_cli, tmp_path, public_scenario) -> Path:
    """`init --doctor --practice-phone` on the public scenario; returns its fmt.toml."""
    result = run_cli(
        "init",
        tmp_path / "inst",
        "--roster",
        public_scenario / "roster.csv",
        "--acts",
        public_scenario / "acts.csv",
        "--practice-name",
        "Cabinet des Lilas",
        "--practice-phone",
        PHONE,
        "--doctor",
        DOCTOR,
    )
    assert result.returncode == 0, result.stderr
    return tmp_path / "inst" / "fmt.toml"


def letters_after_run(run_cli, config: Path) -> list[email.message.EmailMessage]:
    result = run_cli("--config", config, "recalls", "run", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    paths = sorted((config.parent / "outbox").glob("*.eml"))
    assert paths
    return [read_eml(path) for path in paths]


def use_templates(config: Path, files: dict[str, str]) -> Path:
    """Write `files` into `modeles/` beside fmt.toml and point `[recalls] templates` at it."""
    folder = config.parent / "modeles"
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    text = config.read_text(encoding="utf-8")
    text = text.replace('# templates = "modeles/"', 'templates = "modeles/"')
    config.write_text(text, encoding="utf-8")
    return folder


def test_init_doctor_is_written_in_the_configuration(practice):
    """`init --doctor` fills `[practice] doctor`."""
    assert f'doctor = "{DOCTOR}"' in practice.read_text(encoding="utf-8")


def test_every_outbox_letter_is_signed_and_says_how_to_object(run_cli, practice):
    """Each written letter is signed by the doctor and the practice and offers opposition."""
    for letter in letters_after_run(run_cli, practice):
        for body in (plain(letter), html(letter)):
            assert DOCTOR in body
            assert "Cabinet des Lilas" in body
            assert "droit d" in body
            assert f"par téléphone au {PHONE}" in body
            assert "Le cabinet peut vous dire où" not in body


def test_a_minor_letter_goes_to_the_parents_about_their_child(run_cli, practice):
    """The 12-year-old of the scenario gets a letter to 'Madame, Monsieur' about Franck."""
    letters = letters_after_run(run_cli, practice)
    to_parents = [
        letter for letter in letters if plain(letter).startswith("Madame, Monsieur,")
    ]
    assert to_parents
    text = plain(to_parents[0])
    assert "votre enfant Franck" in text
    assert "DESCOMBES" not in text
    assert "Prenez rendez-vous pour votre enfant chez le dentiste" in text
    assert to_parents[0]["Subject"].startswith("Le suivi de prévention de votre enfant")


def test_an_adult_letter_speaks_to_the_patient(run_cli, practice):
    """An adult's letter greets the patient and speaks of 'votre dossier', no child."""
    letters = letters_after_run(run_cli, practice)
    adults = [letter for letter in letters if plain(letter).startswith("Bonjour,")]
    assert adults
    for letter in adults:
        assert "votre enfant" not in plain(letter)
        assert "Je fais régulièrement le point avec mes patients" in plain(letter)


def test_a_practice_template_is_used_by_recalls_run(run_cli, practice):
    """An override in the practice's folder reaches the written letters; the rest is shipped."""
    use_templates(
        practice,
        {
            "letter.txt.j2": (
                '{% extends "fmt/letter.txt.j2" %}'
                "{% block signature %}Toute l'équipe du cabinet{% endblock %}"
            )
        },
    )
    for letter in letters_after_run(run_cli, practice):
        assert plain(letter).rstrip().endswith("Toute l'équipe du cabinet")
        assert DOCTOR in html(letter)


def test_check_config_accepts_a_good_override(run_cli, practice):
    """check-config vets the practice's templates and passes when they render."""
    use_templates(
        practice,
        {
            "indicators/dep_sein.txt.j2": (
                "{% set why %}Un dépistage utile.{% endset %}"
                "{% set where %}Au centre d'imagerie.{% endset %}"
            )
        },
    )
    result = run_cli("--config", practice, "check-config")
    assert result.returncode == 0, result.stderr


def test_check_config_refuses_a_broken_template_with_file_and_line(run_cli, practice):
    """A syntax error in an override stops check-config (exit 2), naming file and line."""
    folder = use_templates(
        practice, {"wording.txt.j2": "{% set greeting %}\nBonjour {{ child \n"}
    )
    result = run_cli("--config", practice, "check-config")
    assert result.returncode == 2
    assert f"{folder / 'wording.txt.j2'}, ligne 2" in result.stderr


def test_recalls_run_refuses_a_broken_template_before_queuing_anything(
    run_cli, practice
):
    """`recalls run` checks the templates first: exit 2 naming the file, the outbox empty."""
    folder = use_templates(
        practice, {"wording.txt.j2": "{% set greeting %}\nBonjour {{ child \n"}
    )
    result = run_cli("--config", practice, "recalls", "run", "--as-of", AS_OF)
    assert result.returncode == 2
    assert f"{folder / 'wording.txt.j2'}, ligne 2" in result.stderr
    listing = run_cli("--config", practice, "recalls", "list")
    assert listing.returncode == 0, listing.stderr
    assert not list((practice.parent / "outbox").glob("*.eml"))
    assert "Aucun rappel." in listing.stdout


def test_file_channel_writes_the_why_and_where_of_each_indicator(tmp_path):
    """The `.eml` of the file outbox holds the indicator's texts and the signature."""
    folder = tmp_path / "outbox"
    channel = FileChannel(
        folder,
        "cabinet@outbox.invalid",
        letters=Letters(doctor=DOCTOR),
        clock=lambda: CREATED_AT,
    )
    base = recall_message()
    message = RecallMessage(**{**base.__dict__, "items": (FLU,)})
    asyncio.run(channel.send(message))
    (path,) = folder.iterdir()
    letter = read_eml(path)
    text = plain(letter)
    assert "à refaire chaque automne" in text
    assert "La vaccination se fait en pharmacie" in text
    assert text.rstrip().endswith(f"{DOCTOR}\nCabinet des Lilas")
    assert "ne peut pas recevoir de réponse" in text


def test_file_channel_turns_a_broken_template_into_a_temporary_error(tmp_path):
    """A template failing at send time leaves no file and is retried later."""
    templates = tmp_path / "modeles"
    templates.mkdir()
    (templates / "subject.txt.j2").write_text("{{ oups }}", encoding="utf-8")
    folder = tmp_path / "outbox"
    channel = FileChannel(
        folder,
        "cabinet@outbox.invalid",
        letters=Letters(templates),
        clock=lambda: CREATED_AT,
    )
    with pytest.raises(TemporaryChannelError, match=r"subject\.txt\.j2"):
        asyncio.run(channel.send(recall_message()))
    assert not folder.exists() or list(folder.iterdir()) == []
