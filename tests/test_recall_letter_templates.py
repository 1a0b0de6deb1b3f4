"""The letter templates: shipped in the package, replaced from a practice's folder, vetted at start-up."""

from __future__ import annotations

import fnmatch
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from fmt_plugin.config import load_config
from fmt_plugin.errors import ConfigError
from fmt_plugin.model import Patient
from fmt_plugin.recalls.letter import Letters, LetterTemplateError
from fmt_plugin.recalls.model import Audience, DueItem, PracticeContact, RecallMessage
from fmt_plugin.rules.model import Status
from fmt_plugin.rules.pack import load_default_pack

ROOT = Path(__file__).parents[1]
TEMPLATES = ROOT / "fmt_plugin" / "recalls" / "templates"
NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
BREAST = DueItem("dep_sein", "Dépistage cancer du sein", "c", 1, Status.A_VERIFIER)
FLU = DueItem(
    "vacc_grippe", "Vaccination grippe", "c", 1, Status.A_VENIR, date(2026, 3, 15)
)


def message(
    *items: DueItem, audience: Audience = Audience.PATIENT, prenom: str = "Léa"
) -> RecallMessage:
    return RecallMessage(
        recall_id=3,
        message_id="<r3@fmt-plugin.invalid>",
        patient=Patient("P003", "test", nom="Martin", prenom=prenom),
        audience=audience,
        items=items or (FLU, BREAST),
        practice=PracticeContact("Cabinet des Lilas", "01 23 45 67 89"),
        created_at=NOW,
    )


def folder_with(tmp_path: Path, files: dict[str, str]) -> Path:
    """A practice's templates folder holding `files` (relative name → text)."""
    folder = tmp_path / "modeles"
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    folder.mkdir(exist_ok=True)
    return folder


def pack_indicators() -> list[tuple[str, str]]:
    return [(i.id, i.label) for i in load_default_pack().indicators]


def test_every_indicator_of_the_default_pack_has_its_own_template():
    """The 15 indicators of fmt-2026 each have a why/where file, and nothing else is there."""
    shipped = {
        path.name.removesuffix(".txt.j2")
        for path in (TEMPLATES / "indicators").glob("*.txt.j2")
    }
    assert shipped == {*load_default_pack().indicator_ids, "_default"}


def test_templates_are_package_data():
    """Every shipped template matches a package-data glob, so a wheel carries it."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["fmt_plugin"]
    package = ROOT / "fmt_plugin"
    files = [p.relative_to(package).as_posix() for p in TEMPLATES.rglob("*.j2")]
    assert len(files) == 20
    for name in files:
        assert any(fnmatch.fnmatch(name, glob) for glob in globs), name


def test_the_shipped_templates_pass_the_check():
    """The shipped letters render for every indicator, audience, step and practice."""
    Letters(doctor="Dr Marie Martin").check(pack_indicators())


def test_a_practice_override_replaces_the_shipped_file_and_others_fall_back(tmp_path):
    """A plain-text layout in the folder is used; the HTML part stays the shipped one."""
    folder = folder_with(
        tmp_path,
        {"letter.txt.j2": "Chers patients,\n{{ wording.intro }}\nÀ bientôt.\n"},
    )
    text = Letters(folder).render(message())
    assert text.plain.startswith("Chers patients,\n")
    assert "À bientôt." in text.plain
    assert "<p>Bonjour,</p>" in text.html


def test_an_indicator_override_changes_only_that_indicator(tmp_path):
    """`indicators/dep_sein.txt.j2` replaces the breast texts; flu keeps the shipped ones."""
    folder = folder_with(
        tmp_path,
        {
            "indicators/dep_sein.txt.j2": (
                "{% set why %}Notre texte sur le sein.{% endset %}\n"
                "{% set where %}Au centre d'imagerie de la gare.{% endset %}\n"
            )
        },
    )
    text = Letters(folder).render(message())
    assert "Notre texte sur le sein." in text.plain
    assert "Au centre d&#39;imagerie de la gare." in text.html
    assert "radiologue agréé" not in text.plain
    assert "à refaire chaque automne" in text.plain


def test_an_override_may_extend_the_shipped_layout_and_change_one_block(tmp_path):
    """`{% extends "fmt/letter.txt.j2" %}` keeps the shipped letter but its signature."""
    folder = folder_with(
        tmp_path,
        {
            "letter.txt.j2": (
                '{% extends "fmt/letter.txt.j2" %}\n'
                "{% block signature %}L'équipe du cabinet{% endblock %}\n"
            )
        },
    )
    text = Letters(folder).render(message())
    assert "radiologue agréé" in text.plain
    assert text.plain.rstrip().endswith("L'équipe du cabinet")


def test_the_wording_override_reaches_both_parts(tmp_path):
    """Changing a sentence in `wording.txt.j2` changes the plain text and the HTML alike."""
    shipped = (TEMPLATES / "wording.txt.j2").read_text(encoding="utf-8")
    folder = folder_with(
        tmp_path,
        {"wording.txt.j2": shipped.replace("Bien cordialement,", "Bien à vous,")},
    )
    text = Letters(folder).render(message())
    assert "Bien à vous," in text.plain
    assert "Bien à vous," in text.html


def test_the_html_escapes_a_practice_name_with_markup_in_an_override(tmp_path):
    """A practice's HTML layout is autoescaped too: `<` in the practice name is text."""
    folder = folder_with(
        tmp_path, {"letter.html.j2": "<p>{{ practice.name }}</p>{{ wording.intro }}"}
    )
    sample = message()
    sample = RecallMessage(
        **{**sample.__dict__, "practice": PracticeContact("Cabinet <Lilas>", "")}
    )
    text = Letters(folder).render(sample)
    assert "<p>Cabinet &lt;Lilas&gt;</p>" in text.html


def test_a_syntax_error_is_refused_with_its_file_and_line(tmp_path):
    """A broken override stops the check, naming the file and the line at fault."""
    folder = folder_with(
        tmp_path,
        {"letter.txt.j2": "Bonjour,\n\n{% if parents %}\nMadame\n{% endfi %}\n"},
    )
    with pytest.raises(LetterTemplateError) as info:
        Letters(folder).check(pack_indicators())
    assert info.value.path == folder / "letter.txt.j2"
    assert info.value.line == 5
    assert str(info.value).startswith(f"{folder / 'letter.txt.j2'}, ligne 5 : ")
    assert isinstance(info.value, ConfigError)


def test_an_unknown_variable_is_refused_with_its_file_and_line(tmp_path):
    """A misspelt variable fails the check (StrictUndefined) at its line, not silently."""
    folder = folder_with(
        tmp_path,
        {
            "indicators/dep_sein.txt.j2": "{% set why %}x{% endset %}\n{% set where %}\n"
            "{{ practise.name }}{% endset %}\n"
        },
    )
    with pytest.raises(LetterTemplateError, match="practise") as info:
        Letters(folder).check(pack_indicators())
    assert info.value.path == folder / "indicators" / "dep_sein.txt.j2"
    assert info.value.line == 3


def test_an_indicator_template_must_set_why_and_where(tmp_path):
    """An indicator file without `where` is refused, naming the file and the missing text."""
    folder = folder_with(
        tmp_path, {"indicators/dep_sein.txt.j2": "{% set why %}x{% endset %}\n"}
    )
    with pytest.raises(LetterTemplateError, match="« where »") as info:
        Letters(folder).check(pack_indicators())
    assert info.value.path == folder / "indicators" / "dep_sein.txt.j2"


def test_an_unknown_template_name_is_refused_with_a_suggestion(tmp_path):
    """A file no letter would use (a misspelt name) is refused, with the closest name."""
    folder = folder_with(tmp_path, {"lettre.txt.j2": "Bonjour\n"})
    with pytest.raises(
        LetterTemplateError, match=r"vouliez-vous dire « letter\.txt\.j2 »"
    ) as info:
        Letters(folder).check(pack_indicators())
    assert info.value.path == folder / "lettre.txt.j2"
    assert "modèle inconnu" in str(info.value)


def test_an_override_for_an_indicator_outside_the_pack_is_refused(tmp_path):
    """`indicators/dep_seins.txt.j2` (a typo) is refused instead of silently unused."""
    folder = folder_with(
        tmp_path,
        {
            "indicators/dep_seins.txt.j2": "{% set why %}{% endset %}{% set where %}"
            "{% endset %}"
        },
    )
    with pytest.raises(LetterTemplateError, match=r"« indicators/dep_sein\.txt\.j2 »"):
        Letters(folder).check(pack_indicators())


def test_a_fragment_may_be_included_by_an_override(tmp_path):
    """A `_name.j2` file is the practice's own piece, included by its templates."""
    folder = folder_with(
        tmp_path,
        {
            "_horaires.txt.j2": "Le cabinet est ouvert du lundi au samedi.",
            "letter.txt.j2": (
                '{% extends "fmt/letter.txt.j2" %}{% block booking %}'
                '{{ wording.booking }}\n{% include "_horaires.txt.j2" %}\n'
                "{% endblock %}"
            ),
        },
    )
    letters = Letters(folder)
    letters.check(pack_indicators())
    assert "ouvert du lundi au samedi." in letters.render(message()).plain


def test_a_template_not_in_utf8_is_refused(tmp_path):
    """A Windows-1252 file is refused with its path and the encoding it needs."""
    folder = folder_with(tmp_path, {})
    (folder / "subject.txt.j2").write_bytes("Prévention".encode("cp1252"))
    with pytest.raises(LetterTemplateError, match="UTF-8") as info:
        Letters(folder).check(pack_indicators())
    assert info.value.path == folder / "subject.txt.j2"


def test_an_empty_subject_is_refused(tmp_path):
    """A subject template that writes nothing is refused at the check."""
    folder = folder_with(tmp_path, {"subject.txt.j2": "{# rien #}\n"})
    with pytest.raises(LetterTemplateError, match="objet"):
        Letters(folder).check(pack_indicators())


def test_an_error_in_a_filter_names_the_place_never_the_value(tmp_path):
    """A template failing on the child's first name reports its type and line, not the name."""
    folder = folder_with(
        tmp_path,
        {"letter.txt.j2": "Bonjour\n{{ child.encode('ascii') }}\n"},
    )
    letters = Letters(folder)
    with pytest.raises(LetterTemplateError) as info:
        letters.render(message(audience=Audience.PARENTS, prenom="Zoé"))
    assert "UnicodeEncodeError" in str(info.value)
    assert info.value.line == 2
    assert "Zoé" not in str(info.value)
    assert "é" not in info.value.message


def test_the_practice_templates_folder_must_exist(tmp_path):
    """`[recalls] templates` naming no folder stops the configuration, naming the key."""
    (tmp_path / "fmt.key").write_text("{}")
    path = tmp_path / "fmt.toml"
    path.write_text('[store]\n[recalls]\ntemplates = "modeles/"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"recalls\.templates"):
        load_config(path)


def test_the_templates_folder_and_the_doctor_are_read_from_the_configuration(tmp_path):
    """`[recalls] templates` is relative to fmt.toml; `[practice] doctor` signs."""
    (tmp_path / "fmt.key").write_text("{}")
    (tmp_path / "modeles").mkdir()
    path = tmp_path / "fmt.toml"
    path.write_text(
        '[practice]\ndoctor = "Dr Marie Martin"\n[store]\n'
        '[recalls]\ntemplates = "modeles/"\n',
        encoding="utf-8",
    )
    letters = Letters.from_config(load_config(path))
    assert letters.folder == tmp_path / "modeles"
    assert letters.doctor == "Dr Marie Martin"
