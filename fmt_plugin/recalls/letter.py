"""Compose the French recall letter of one outbox message: headers, plain text and HTML, from templates.

The wording is Jinja2 templates shipped in `fmt_plugin/recalls/templates/` (the subject, the
sentences, the plain and HTML layouts, and per indicator why it matters and where it is
done); a practice replaces any of them from its own folder (`[recalls] templates`), the
others falling back to the shipped ones. The templates see only what the letter needs: no
result value, no medical detail beyond the indicators' labels and their general texts, no
name but the first name of a child (so parents who read several children's Mon espace
santé know which one it is about); the INS and the family name are not even in their
context. The letter goes to the patient's own mailbox; it is never logged. The same
templates write the invitation letters the practice prints (`printed`, see
`fmt_plugin.letters`), which say nothing of a message sent automatically.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from fmt_plugin.errors import ConfigError
from fmt_plugin.model import Patient
from fmt_plugin.recalls.model import (
    Audience,
    DueItem,
    PracticeContact,
    RecallMessage,
    highest_step,
)
from fmt_plugin.rules.model import Status
from fmt_plugin.timezone import PARIS
from fmt_plugin.views.french import long_day, nonbreaking_punctuation

if TYPE_CHECKING:
    from fmt_plugin.config import FmtConfig

#: Who signs when the configuration gives no practice name.
DEFAULT_PRACTICE_NAME = "Votre cabinet médical"
#: The setting that names the practice's templates folder.
TEMPLATES_KEY = "recalls.templates"
SUBJECT = "subject.txt.j2"
PLAIN = "letter.txt.j2"
HTML = "letter.html.j2"
WORDING = "wording.txt.j2"
#: Why an indicator matters and where it is done: one file per indicator id.
INDICATOR = "indicators/{}.txt.j2"
#: The texts of an indicator without its own file (a practice's own rule pack).
DEFAULT_INDICATOR = "indicators/_default.txt.j2"
#: The names a practice's folder may hold besides `indicators/<id>.txt.j2` and `_*.j2`.
LETTER_TEMPLATES = (SUBJECT, PLAIN, HTML, WORDING)
#: The prefix under which the shipped templates stay reachable from an override
#: (`{% extends "fmt/letter.txt.j2" %}` changes one block and keeps the rest).
SHIPPED_PREFIX = "fmt"
#: What an indicator template must define.
INDICATOR_TEXTS = ("why", "where")
#: The paragraphs `wording.txt.j2` must define, printed by the layouts as `wording.<name>`.
WORDING_TEXTS = (
    "greeting",
    "intro",
    "booking",
    "done_elsewhere",
    "objection",
    "automatic",
    "closing",
)
#: An indicator id that may name a file (a rule pack's ids are such; anything else falls
#: back to the default texts rather than becoming a path).
_FILE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
#: The date of the sample letters `check` renders.
_SAMPLE_DUE = date(2026, 3, 1)


class LetterTemplateError(ConfigError):
    """A letter template cannot be read, compiled or rendered; `path` and `line` locate it.

    The message never quotes a value the template was given (a first name, a phone).
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
    ) -> None:
        self.line = line
        super().__init__(message, path=path, key=None if path else TEMPLATES_KEY)

    def _render(self) -> str:
        if self.path is None:
            return super()._render()
        where = str(self.path) + (f", ligne {self.line}" if self.line else "")
        return f"{where} : {self.message}"


@dataclass(frozen=True)
class LetterItem:
    """One due indicator as the templates see it (`item.label`, `item.when`, …)."""

    indicator: str
    label: str
    due: date | None
    #: `à prévoir avant le 15 mars 2026` or `à faire dès que possible`.
    when: str
    #: Why it matters, and where it is done: the indicator template's `why` and `where`.
    why: str
    where: str


@dataclass(frozen=True)
class LetterPractice:
    """The practice as the templates see it: `practice.name` (never empty), `practice.phone`."""

    name: str
    phone: str


@dataclass(frozen=True)
class LetterText:
    """A rendered letter: its subject, plain-text part and HTML part."""

    subject: str
    plain: str
    html: str


class Letters:
    """The recall letters of one installation: the templates in use and who signs.

    `folder` is the practice's templates folder (None: the shipped templates only); a file
    there replaces the shipped one of the same name. `doctor` (`[practice] doctor`, e.g.
    "Dr Marie Martin") signs the letters, which then speak in the first person. Templates
    are read once: a change takes effect at the next start, where `check` vets it.
    """

    def __init__(self, folder: Path | None = None, *, doctor: str = "") -> None:
        self.folder = folder
        self.doctor = doctor.strip()
        shipped = jinja2.PackageLoader("fmt_plugin.recalls", "templates")
        loaders: list[jinja2.BaseLoader] = [
            jinja2.PrefixLoader({SHIPPED_PREFIX: shipped})
        ]
        if folder is not None:
            loaders.append(jinja2.FileSystemLoader(folder, encoding="utf-8"))
        loaders.append(shipped)
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html.j2", "html"),
                default_for_string=False,
                default=False,
            ),
            # A misspelt variable stops the check at start-up instead of printing nothing.
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self._env.filters["long_day"] = long_day

    @classmethod
    def from_config(cls, config: FmtConfig) -> Letters:
        """The letters `[recalls] templates` and `[practice] doctor` describe."""
        return cls(config.recalls.templates, doctor=config.practice.doctor)

    def __repr__(self) -> str:
        folder = str(self.folder) if self.folder is not None else None
        return f"Letters(folder={folder!r})"

    def compose(
        self,
        message: RecallMessage,
        *,
        sender: str,
        recipient: str,
        now: datetime,
        headers: Mapping[str, str] | None = None,
        replies: bool = False,
    ) -> EmailMessage:
        """The recall as a MIME message: plain text with an HTML alternative, in French.

        `now` (timezone-aware) becomes the `Date` header, in Paris time; `message.message_id`
        the `Message-ID`, so every attempt carries the same one. `headers` are added last
        (e.g. MSSanté's `X-MSS-NIL`). `replies` says whether the patient can answer the
        message (the objection sentence then offers it). Raises ValueError for a naive
        `now`, `LetterTemplateError` when a template fails.
        """
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the letter's date needs a timezone")
        text = self.render(message, replies=replies)
        letter = EmailMessage(policy=SMTP)
        letter["From"] = Address(
            display_name=message.practice.name.strip(), addr_spec=sender
        )
        letter["To"] = Address(addr_spec=recipient)
        letter["Subject"] = text.subject
        letter["Date"] = format_datetime(now.astimezone(PARIS))
        letter["Message-ID"] = _bracketed(message.message_id)
        # RFC 3834: an automatic message, so auto-responders stay quiet.
        letter["Auto-Submitted"] = "auto-generated"
        for name, value in (headers or {}).items():
            letter[name] = value
        # Quoted-printable keeps the message 7-bit clean (no reliance on the server's
        # 8BITMIME) while an `.eml` stays readable in a text editor.
        letter.set_content(text.plain, cte="quoted-printable")
        letter.add_alternative(text.html, subtype="html", cte="quoted-printable")
        # After the content: set_content() clears every Content-* header.
        letter["Content-Language"] = "fr"
        return letter

    def render(
        self, message: RecallMessage, *, replies: bool = False, printed: bool = False
    ) -> LetterText:
        """The letter's subject and parts; `LetterTemplateError` when a template fails.

        `printed`: a letter on paper, which the practice posts or hands over. The templates
        see `printed` true, and the `automatic` paragraph is left out whatever it says: it
        is about a message sent by the software.
        """
        context = self._context(message, replies=replies, printed=printed)
        with _located():
            context["items"] = [self._item(item, context) for item in message.items]
            wording = self._env.get_template(WORDING)
            context["wording"] = _texts(
                wording, self._module(wording, context), WORDING_TEXTS
            )
            if printed:
                context["wording"]["automatic"] = ""
            subject = " ".join(self._env.get_template(SUBJECT).render(context).split())
            if not subject:
                raise LetterTemplateError(
                    "l'objet du message est vide", path=self._filename(SUBJECT)
                )
            context["subject"] = nonbreaking_punctuation(subject)
            plain = self._env.get_template(PLAIN).render(context)
            page = self._env.get_template(HTML).render(context)
        return LetterText(
            subject=context["subject"], plain=_tidy_plain(plain), html=_tidy_html(page)
        )

    def check(self, indicators: Iterable[tuple[str, str]] = ()) -> None:
        """Vet the practice's templates and render sample letters; raise `LetterTemplateError`.

        `indicators` are the (id, label) pairs of the rule pack in use (by default the
        shipped indicator files): an override for an unknown indicator is refused, like
        any file the letters would never use, and every indicator is rendered for an
        adult and for parents, first letter and reminder, e-mail and printed, with and
        without a phone.
        """
        known = list(indicators) or [
            (name, name) for name in self._shipped_indicator_ids()
        ]
        if self.folder is not None:
            self._check_folder(self.folder, {indicator for indicator, _ in known})
        for audience in Audience:
            for step in (1, 2):
                # An e-mail the patient can or cannot answer, and a printed letter.
                for replies, printed in ((False, False), (True, False), (False, True)):
                    for practice in (
                        PracticeContact("Cabinet", "01 23 45 67 89"),
                        PracticeContact(""),
                    ):
                        sample = _sample_message(audience, step, known, practice)
                        self.render(sample, replies=replies, printed=printed)

    def _context(
        self, message: RecallMessage, *, replies: bool, printed: bool
    ) -> dict[str, Any]:
        parents = message.audience is Audience.PARENTS
        return {
            "practice": LetterPractice(
                name=message.practice.name.strip() or DEFAULT_PRACTICE_NAME,
                phone=message.practice.phone.strip(),
            ),
            "doctor": self.doctor,
            "audience": message.audience.value,
            "parents": parents,
            "child": _as_written(message.patient.prenom) if parents else "",
            "reminder": highest_step(message.items) >= 2,
            "replies": replies,
            "printed": printed,
        }

    def _item(self, item: DueItem, context: Mapping[str, Any]) -> LetterItem:
        """The item with its indicator template's `why` and `where`, on one line each."""
        names = [DEFAULT_INDICATOR]
        if _FILE_ID.fullmatch(item.indicator):
            names.insert(0, INDICATOR.format(item.indicator))
        template = self._env.select_template(names)
        module = self._module(
            template,
            {
                **context,
                "indicator": item.indicator,
                "label": item.label,
                "due": item.due,
            },
        )
        texts = _texts(template, module, INDICATOR_TEXTS)
        return LetterItem(
            indicator=item.indicator,
            label=item.label,
            due=item.due,
            when=due_phrase(item),
            why=texts["why"],
            where=texts["where"],
        )

    def _module(
        self, template: jinja2.Template, context: Mapping[str, Any]
    ) -> jinja2.environment.TemplateModule:
        """The template run for its `set`s, errors located on the template's lines."""
        try:
            return template.make_module(dict(context))
        except Exception:  # noqa: BLE001 -- re-raised, rewritten, by handle_exception
            # Unlike render(), make_module() leaves the compiled code's line numbers in the
            # traceback: Jinja2's own handler re-raises with the template's lines.
            self._env.handle_exception()

    def _check_folder(self, folder: Path, indicator_ids: set[str]) -> None:
        """Every `*.j2` of the practice's `folder` is UTF-8, has a known name, compiles."""
        allowed = {*LETTER_TEMPLATES, DEFAULT_INDICATOR}
        allowed |= {INDICATOR.format(indicator) for indicator in indicator_ids}
        for path in sorted(folder.rglob("*.j2")):
            if not path.is_file():
                continue
            name = path.relative_to(folder).as_posix()
            try:
                path.read_bytes().decode("utf-8")
            except OSError as exc:
                raise LetterTemplateError(
                    f"modèle illisible ({exc.strerror or exc})", path=path
                ) from exc
            except UnicodeDecodeError as exc:
                raise LetterTemplateError(
                    "modèle illisible : le fichier doit être enregistré en UTF-8",
                    path=path,
                ) from exc
            if name not in allowed and not _is_fragment(name):
                close = difflib.get_close_matches(name, sorted(allowed), n=1)
                hint = f", vouliez-vous dire « {close[0]} » ?" if close else ""
                raise LetterTemplateError(
                    "modèle inconnu : aucune lettre ne l'utiliserait "
                    f"(attendu : {', '.join(LETTER_TEMPLATES)}, "
                    f"indicators/<indicateur>.txt.j2 ou un fragment _nom.j2{hint})",
                    path=path,
                )
            with _located():
                self._env.get_template(name)

    def _shipped_indicator_ids(self) -> list[str]:
        names = self._env.list_templates(filter_func=_is_shipped_indicator)
        return sorted(
            name.removeprefix(f"{SHIPPED_PREFIX}/indicators/").removesuffix(".txt.j2")
            for name in names
        )

    def _filename(self, name: str) -> str | None:
        with _located():
            return self._env.get_template(name).filename


def compose_letter(
    message: RecallMessage,
    *,
    sender: str,
    recipient: str,
    now: datetime,
    headers: Mapping[str, str] | None = None,
    letters: Letters | None = None,
    replies: bool = False,
) -> EmailMessage:
    """`letters.compose(...)`; without `letters`, the shipped templates and no doctor."""
    return (letters or shipped_letters()).compose(
        message,
        sender=sender,
        recipient=recipient,
        now=now,
        headers=headers,
        replies=replies,
    )


@functools.cache
def shipped_letters() -> Letters:
    """The shipped templates, signed by the practice alone (built once)."""
    return Letters()


#: Kept for the callers of the letter's first date formatting: see `views.french`.
french_date = long_day


def due_phrase(item: DueItem) -> str:
    """When the item is due, in words: as soon as possible, or before its due date."""
    if item.status is Status.A_VERIFIER or item.due is None:
        return "à faire dès que possible"
    return f"à prévoir avant le {long_day(item.due)}"


@contextmanager
def _located() -> Iterator[None]:
    """Turn Jinja2's errors into `LetterTemplateError` naming the template file and line.

    Jinja2's own messages name variables and tags, never a value; any other exception
    raised while rendering is reported by its type only, since its message could quote
    the first name or the phone the template was given.
    """
    try:
        yield
    except LetterTemplateError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise LetterTemplateError(
            f"modèle invalide : {exc.message}",
            path=exc.filename or exc.name,
            line=exc.lineno,
        ) from exc
    except jinja2.TemplateNotFound as exc:
        path, line = _template_frame(exc)
        raise LetterTemplateError(
            f"modèle introuvable : {exc.name}", path=path, line=line
        ) from exc
    except jinja2.TemplateError as exc:
        path, line = _template_frame(exc)
        raise LetterTemplateError(
            f"modèle invalide : {exc.message}", path=path, line=line
        ) from exc
    except UnicodeDecodeError as exc:
        raise LetterTemplateError(
            "un modèle n'est pas enregistré en UTF-8", path=None
        ) from exc
    except Exception as exc:
        # A filter or an expression of the template failed: its message may hold the
        # value it was given (a first name), so the type alone is told, with the place.
        path, line = _template_frame(exc)
        raise LetterTemplateError(
            f"erreur dans le modèle ({type(exc).__name__})", path=path, line=line
        ) from exc


def _texts(
    template: jinja2.Template,
    module: jinja2.environment.TemplateModule,
    names: Iterable[str],
) -> dict[str, str]:
    """The paragraphs `template` sets (`{% set why %}…{% endset %}`), each on one line.

    Rendered from Python, outside any HTML template, they are plain strings: the HTML
    layout escapes them like any other variable.
    """
    texts = {}
    for name in names:
        value = getattr(module, name, None)
        if value is None:
            raise LetterTemplateError(
                f"le modèle doit définir « {name} » ({{% set {name} %}}…{{% endset %}})",
                path=template.filename,
            )
        texts[name] = " ".join(str(value).split())
    return texts


def _template_frame(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template file and line of `exc`'s traceback (Jinja2 rewrites them)."""
    path: str | None = None
    line: int | None = None
    traceback = exc.__traceback__
    while traceback is not None:
        filename = traceback.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            path, line = filename, traceback.tb_lineno
        traceback = traceback.tb_next
    return path, line


def _is_fragment(name: str) -> bool:
    """A practice's own piece to include (`_signature.txt.j2`), at the folder's top."""
    return "/" not in name and name.startswith("_")


def _is_shipped_indicator(name: str) -> bool:
    prefix = f"{SHIPPED_PREFIX}/indicators/"
    return (
        name.startswith(prefix)
        and name.endswith(".txt.j2")
        and not name.removeprefix(prefix).startswith("_")
    )


def _sample_message(
    audience: Audience,
    step: int,
    indicators: Iterable[tuple[str, str]],
    practice: PracticeContact,
) -> RecallMessage:
    """A letter with every indicator, once due now and once due later, for `check`."""
    items: list[DueItem] = []
    for indicator, label in indicators:
        items.append(DueItem(indicator, label, "verification", step, Status.A_VERIFIER))
        items.append(
            DueItem(indicator, label, "verification", step, Status.A_VENIR, _SAMPLE_DUE)
        )
    moment = datetime(2026, 3, 1, tzinfo=PARIS)
    return RecallMessage(
        recall_id=0,
        message_id="<verification@fmt-plugin.invalid>",
        patient=Patient("verification", "fmt-plugin", prenom="Camille"),
        audience=audience,
        items=tuple(items),
        practice=practice,
        created_at=moment,
    )


def _tidy_plain(text: str) -> str:
    """No trailing spaces, no run of blank lines, French spacing, one final newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return nonbreaking_punctuation(tidy) + "\n"


_TAG = re.compile(r"(<[^>]*>)")
_RAW_TEXT_TAG = re.compile(r"<\s*(/?)\s*(style|script)\b", re.IGNORECASE)


def _tidy_html(page: str) -> str:
    """French spacing in the page's text, never inside a tag, a style or a script."""
    parts = _TAG.split(page)
    raw = False
    for index, part in enumerate(parts):
        if index % 2:
            if match := _RAW_TEXT_TAG.match(part):
                raw = not match.group(1)
        elif not raw:
            parts[index] = nonbreaking_punctuation(part)
    return "".join(parts)


def _bracketed(message_id: str) -> str:
    message_id = message_id.strip()
    if message_id.startswith("<") and message_id.endswith(">"):
        return message_id
    return f"<{message_id}>"


def _as_written(first_name: str) -> str:
    """A first name as a letter writes it: EHRs often export them in capitals ("JEAN-LUC")."""
    name = first_name.strip()
    return name.title() if name.isupper() else name
