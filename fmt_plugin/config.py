"""Read `fmt.toml` into frozen dataclasses, validating every key, and resolve `$env`/`$file` secrets.

Unknown keys, wrong types and missing files stop with a `ConfigError` naming the file, the dotted
key and what was expected. Paths are relative to the configuration file's folder.
"""

from __future__ import annotations

import datetime
import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmt_plugin.errors import ConfigError
from fmt_plugin.mllp.server import MAX_CONNECTIONS_LIMIT, MllpSettings
from fmt_plugin.private_mode import check_private_mode
from fmt_plugin.recalls.policy import RecallPolicy

CONFIG_ENV_VAR = "FMT_CONFIG"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: The log file of the commands when `[logging] file` is absent, beside the database.
LOG_FILE_NAME = "fmt.log"
_MISSING: Any = object()


class Section:
    """Typed, checked access to one table of the configuration.

    Each accessor marks its key as known; `finish()` then rejects whatever key nobody asked for,
    which is how a typo such as `[store] pth = …` is caught instead of silently ignored.
    """

    def __init__(
        self, data: Mapping[str, Any], *, name: str, source: Path, base_dir: Path
    ) -> None:
        self._data = data
        self.name = name
        self.source = source
        self.base_dir = base_dir
        self._known: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def names(self) -> list[str]:
        """The keys present in this table, in file order."""
        return list(self._data)

    @property
    def raw(self) -> Mapping[str, Any]:
        """The table as parsed, unchecked (for handing a sub-table to its owner)."""
        return self._data

    def dotted(self, key: str) -> str:
        """The full dotted name of `key`, as messages show it."""
        return f"{self.name}.{key}" if self.name else key

    def error(self, key: str, message: str, expected: str | None = None) -> ConfigError:
        """A ConfigError located at `key` of this table."""
        return ConfigError(
            message, path=self.source, key=self.dotted(key), expected=expected
        )

    def _get(self, key: str, default: Any, expected: str) -> Any:
        self._known.add(key)
        if key in self._data:
            return self._data[key]
        if default is _MISSING:
            message = "réglage obligatoire absent"
            strangers = [k for k in self._data if k not in self._known]
            typo = difflib.get_close_matches(key, strangers, n=1)
            if typo:
                message += f" (« {self.dotted(typo[0])} » est-il une faute de frappe ?)"
            raise self.error(key, message, expected)
        return default

    def string(
        self, key: str, default: Any = _MISSING, *, choices: tuple[str, ...] = ()
    ) -> str:
        """A string; with `choices`, one of them."""
        expected = " | ".join(repr(c) for c in choices) if choices else "une chaîne"
        value = self._get(key, default, expected)
        if not isinstance(value, str):
            raise self.error(key, f"type {_type_name(value)} invalide", expected)
        if choices and value not in choices:
            raise self.error(key, f"valeur {value!r} inconnue", expected)
        return value

    def optional_string(self, key: str) -> str | None:
        """A string, or None when the key is absent."""
        value = self._get(key, None, "une chaîne")
        if value is not None and not isinstance(value, str):
            raise self.error(key, f"type {_type_name(value)} invalide", "une chaîne")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        """A TOML boolean (`true`/`false`)."""
        value = self._get(key, default, "true ou false")
        if not isinstance(value, bool):
            raise self.error(key, f"type {_type_name(value)} invalide", "true ou false")
        return value

    def integer(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        """An integer, at least `minimum` and at most `maximum` when given."""
        if minimum is not None and maximum is not None:
            expected = f"un entier de {minimum} à {maximum}"
        else:
            expected = "un entier" + (f" ≥ {minimum}" if minimum is not None else "")
        value = self._get(key, default, expected)
        # bool is an int subclass in Python, but `port = true` is a mistake.
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(key, f"type {_type_name(value)} invalide", expected)
        if minimum is not None and value < minimum:
            raise self.error(key, f"valeur {value} trop petite", expected)
        if maximum is not None and value > maximum:
            raise self.error(key, f"valeur {value} trop grande", expected)
        return value

    def seconds(self, key: str, default: Any = _MISSING) -> float:
        """A duration in seconds: a number (integer or not) greater than 0."""
        expected = "un nombre de secondes > 0"
        value = self._get(key, default, expected)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.error(key, f"valeur {value!r} invalide", expected)
        return float(value)

    def value(self, key: str, default: Any = _MISSING, *, expected: str) -> Any:
        """The raw value of `key`, for a caller that checks a shape the accessors lack."""
        return self._get(key, default, expected)

    def date(self, key: str) -> datetime.date:
        """A TOML local date (`2026-03-15`, unquoted)."""
        expected = "une date AAAA-MM-JJ (sans guillemets)"
        value = self._get(key, _MISSING, expected)
        if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
            raise self.error(key, f"type {_type_name(value)} invalide", expected)
        return value

    def optional_date(self, key: str) -> datetime.date | None:
        """A TOML local date, or None when the key is absent."""
        if key not in self._data:
            self._known.add(key)
            return None
        return self.date(key)

    def string_list(self, key: str, default: Any = ()) -> tuple[str, ...]:
        """A list of strings."""
        expected = "une liste de chaînes"
        value = self._get(key, default, expected)
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, str) for v in value
        ):
            raise self.error(key, f"type {_type_name(value)} invalide", expected)
        return tuple(value)

    def path(
        self, key: str, default: Any = _MISSING, *, must_exist: bool = False
    ) -> Path:
        """A path, resolved against the configuration file's folder."""
        value = self.string(key, default)
        resolved = resolve_path(self.base_dir, value)
        if must_exist and not resolved.exists():
            raise self.error(
                key, f"fichier introuvable : {resolved}", "un fichier existant"
            )
        return resolved

    def optional_path(self, key: str, *, must_exist: bool = False) -> Path | None:
        """A path, or None when the key is absent."""
        if key not in self._data:
            self._known.add(key)
            return None
        return self.path(key, must_exist=must_exist)

    def secret(self, key: str) -> str | None:
        """A secret given by reference: `{ "$env" = "VAR" }` or `{ "$file" = "path" }`.

        Secrets written in clear in the file are refused, so that the configuration can be
        shared or backed up without leaking them.
        """
        expected = '{ "$env" = "VARIABLE" } ou { "$file" = "chemin" }'
        value = self._get(key, None, expected)
        if value is None:
            return None
        if not isinstance(value, Mapping) or len(value) != 1:
            raise self.error(key, "un secret ne s'écrit pas en clair", expected)
        ((kind, ref),) = value.items()
        if kind == "$env" and isinstance(ref, str):
            if ref not in os.environ:
                raise self.error(
                    key, f"variable d'environnement {ref} non définie", expected
                )
            return os.environ[ref]
        if kind == "$file" and isinstance(ref, str):
            secret_path = resolve_path(self.base_dir, ref)
            try:
                return secret_path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise self.error(
                    key, f"fichier {secret_path} illisible ({exc.strerror})", expected
                ) from exc
        raise self.error(key, f"référence {kind!r} inconnue", expected)

    def table(self, key: str, *, required: bool = False) -> Section:
        """A sub-table; an absent optional table reads as empty."""
        value = self._get(key, _MISSING if required else {}, "une table")
        if not isinstance(value, Mapping):
            raise self.error(key, f"type {_type_name(value)} invalide", "une table")
        return Section(
            value, name=self.dotted(key), source=self.source, base_dir=self.base_dir
        )

    def finish(self) -> None:
        """Reject every key no accessor asked for, suggesting the closest known one."""
        for key in self._data:
            if key in self._known:
                continue
            close = difflib.get_close_matches(key, sorted(self._known), n=1)
            hint = f"vouliez-vous dire « {self.dotted(close[0])} » ?" if close else None
            known = ", ".join(sorted(self._known)) or "aucune"
            raise self.error(key, "clé inconnue", hint or f"une de : {known}")


@dataclass(frozen=True)
class StoreSettings:
    """Where the encrypted store and its key file live."""

    path: Path
    key_file: Path
    key_passphrase: str | None = field(default=None, repr=False)
    #: Free space of the store's file system under which `/health` says "disque plein"
    #: (0: not checked); SQLite needs room for the WAL before it can commit anything.
    min_free_mb: int = 50
    #: How many values one transaction of a key rotation re-encrypts: small enough that an
    #: HL7 message waiting for the store is never held up for long.
    reencrypt_slice_rows: int = 500


#: The anchor file's default name: the key file's, with this suffix, in the key's folder.
AUDIT_ANCHOR_SUFFIX = ".audit-head"


def default_anchor_file(key_file: Path) -> Path:
    """Where the audit head is anchored when `[audit] anchor_file` is not set."""
    return key_file.with_name(key_file.name + AUDIT_ANCHOR_SUFFIX)


@dataclass(frozen=True)
class AuditSettings:
    """Where the audit chain's head is anchored outside the store (see `storage.audit_anchor`)."""

    #: The anchor file; beside the key file by default, where restoring the store does not reach.
    anchor_file: Path
    #: The syslog datagram socket the head is also reported to; None: not reported.
    journal_socket: Path | None = Path("/dev/log")


@dataclass(frozen=True)
class PluginSettings:
    """Which adapters to load beyond the built-ins and the installed entry points."""

    modules: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoggingSettings:
    """How fmt-plugin logs (never patient data, whatever the level).

    `serve` logs on standard error (journald keeps it); the other commands write their log
    records to `file` and show only warnings on the terminal. `file` is None only for
    settings built in code: a loaded configuration always names one.
    """

    level: str = "INFO"
    json: bool = False
    file: Path | None = None


#: `[practice] zone`: where the practice is, for the majoration of the forfait socle.
ZONES = ("aucune", "zip", "qpv")


@dataclass(frozen=True)
class DoctorSituation:
    """`[practice] zone`, `primo_installation_date`, `doctor_birth_date`: the doctor's
    situation that the majorations of the forfait socle depend on.

    `zone` is `zip` (zone d'intervention prioritaire), `qpv` (quartier prioritaire de la
    politique de la ville) or `aucune`. `primo_installation_date` is the doctor's first
    installation in libéral practice, set only when it was one; `doctor_birth_date` tells
    whether the doctor is 67 or over. Both are None when not given (no such majoration).
    """

    zone: str = "aucune"
    primo_installation_date: datetime.date | None = None
    doctor_birth_date: datetime.date | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PracticeSettings:
    """Who the practice is, as shown to patients and in reports.

    `patient_id_authorities` names the assigning authorities (name or OID of HL7 PID-3.4) under
    which a message's `PI` identifier is the practice's own patient id; a lab's or a hospital's
    local ids are never matched against ours.
    """

    name: str = ""
    patient_id_authorities: tuple[str, ...] = ()
    #: The number patients call to book, printed in every recall.
    phone: str = ""
    #: Who signs the recall letters, as written under them ("Dr Marie Martin"); empty: the
    #: practice signs alone.
    doctor: str = ""
    #: The practice's postal address, line by line, in the printed letters' letterhead.
    address: tuple[str, ...] = ()
    #: Where the printed letters are dated from ("Paris, le 3 décembre 2026"); empty: the
    #: date alone.
    city: str = ""
    #: Whose flu and covid seasons apply: `metropole`, or a territory of the rule pack
    #: (`mayotte`, `reunion`, `antilles_guyane` in fmt-2026).
    territory: str = "metropole"
    #: What sets the majoration of the forfait socle (`fmt-plugin remuneration`).
    doctor_situation: DoctorSituation = DoctorSituation()


@dataclass(frozen=True)
class RulesSettings:
    """Which rule pack evaluates the indicators, and the practice's own pack files.

    `files` are read after the packs the adapters offer: a file whose pack id equals the
    default one (`fmt-2026`) replaces it. `variants` maps an indicator id to the name of
    the pack's rule variant to use for it (`{"suivi_hba1c": "rosp"}`); checked against the
    pack when it is selected.
    """

    pack: str = "fmt-2026"
    files: tuple[Path, ...] = ()
    variants: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RosterSettings:
    """`[roster]`: how `sync` guards the patientèle against a truncated or misread export.

    A sync that would retire more than `max_retire_percent` % of the active patients stops
    before changing anything, unless `sync --allow-retire`.
    """

    max_retire_percent: int = 10


@dataclass(frozen=True)
class Hl7Settings:
    """How received HL7 messages are parsed and answered.

    `parser` is `er7` (ours, fast) or `hl7apy` (the reference library, ~16 ms per message).
    `unsupported_version_ack` is `AR` (HL7's rule) or `AE` (what the ANS examples answer).
    """

    parser: str = "er7"
    unsupported_version_ack: str = "AR"


@dataclass(frozen=True)
class HttpSettings:
    """`[http]`: the practice dashboard and the status endpoint (`/health`, `/status`).

    It listens on the loopback interface by default. Any other address shows patient data
    to the network, so it is refused without TLS (`tls_cert` and `tls_key`).
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8575
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: A dashboard session ends after this long without a request.
    session_idle_minutes: int = 30
    #: Failed log-ins in a row that lock an account, and for how long.
    login_max_failures: int = 5
    login_lockout_minutes: int = 15

    @property
    def loopback_only(self) -> bool:
        """True when only this machine can reach the address."""
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")


#: The addresses that only the machine itself can reach.
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class ServiceSettings:
    """`[service]`: how the background service behaves as a whole."""

    #: SIGTERM/SIGINT: the bound for finishing in-flight messages and the current delivery.
    shutdown_timeout_s: float = 10.0


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class RecallSettings:
    """`[recalls]`: when recalls are planned and sent, and how failures are retried.

    The planner's own policy is `policy`; the rest drives the scheduler's jobs and the
    outbox delivery. Sending never happens on French public holidays (and, with
    `alsace_moselle`, on Good Friday and 26 December).
    """

    policy: RecallPolicy = field(default_factory=RecallPolicy)
    planning_time: datetime.time = datetime.time(8, 0)
    planning_days: tuple[str, ...] = WEEKDAYS[:5]
    delivery_every_minutes: int = 5
    sending_from: datetime.time = datetime.time(8, 0)
    sending_until: datetime.time = datetime.time(19, 0)
    sending_days: tuple[str, ...] = WEEKDAYS[:6]
    alsace_moselle: bool = False
    snapshot_time: datetime.time = datetime.time(2, 0)
    retry_base_s: int = 300
    retry_max_s: int = 6 * 3600
    max_attempts: int = 6
    jobstore: Path | None = None
    #: The practice's letter templates: a file there replaces the shipped one of that name.
    templates: Path | None = None


@dataclass(frozen=True)
class FmtConfig:
    """The whole validated configuration of one installation."""

    path: Path
    store: StoreSettings
    audit: AuditSettings
    practice: PracticeSettings = PracticeSettings()
    plugins: PluginSettings = PluginSettings()
    logging: LoggingSettings = LoggingSettings()
    rules: RulesSettings = RulesSettings()
    roster: RosterSettings = RosterSettings()
    mllp: MllpSettings = field(default_factory=MllpSettings)
    hl7: Hl7Settings = Hl7Settings()
    recalls: RecallSettings = field(default_factory=RecallSettings)
    http: HttpSettings = HttpSettings()
    service: ServiceSettings = ServiceSettings()
    adapter_tables: Mapping[str, Mapping[str, Any]] = field(
        default_factory=dict, repr=False
    )
    channel_tables: Mapping[str, Mapping[str, Any]] = field(
        default_factory=dict, repr=False
    )

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved against."""
        return self.path.parent

    def adapter_section(self, name: str) -> Section | None:
        """The `[adapters.NAME]` table for the adapter `name`, or None when absent.

        The adapter reads its keys through the returned Section and calls `finish()` so that
        its own typos are reported like the core's.
        """
        return self._section("adapters", self.adapter_tables, name)

    def channel_section(self, name: str) -> Section | None:
        """The `[channels.NAME]` table of the recall channel `name`, or None when absent.

        Like `adapter_section`: the channel reads its keys and calls `finish()`.
        """
        return self._section("channels", self.channel_tables, name)

    def _section(
        self, parent: str, tables: Mapping[str, Mapping[str, Any]], name: str
    ) -> Section | None:
        data = tables.get(name)
        if data is None:
            return None
        return Section(
            data, name=f"{parent}.{name}", source=self.path, base_dir=self.base_dir
        )


def resolve_path(base_dir: Path, value: str) -> Path:
    """`value` with `~` expanded, relative to `base_dir` unless absolute."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def _existing_file(section: Section, key: str, path: Path) -> Path:
    if not path.is_file():
        raise section.error(key, f"fichier introuvable : {path}", "un fichier existant")
    return path


def _type_name(value: Any) -> str:
    names = {str: "chaîne", bool: "booléen", int: "entier", float: "nombre"}
    names |= {list: "liste", dict: "table", datetime.date: "date"}
    return names.get(type(value), type(value).__name__)


def config_path_from(arg: str | None, environ: Mapping[str, str]) -> Path:
    """The configuration file named by `--config` or, failing that, by `FMT_CONFIG`."""
    value = arg or environ.get(CONFIG_ENV_VAR)
    if not value:
        raise ConfigError(
            "aucune configuration indiquée",
            expected=f"--config CHEMIN ou la variable {CONFIG_ENV_VAR}",
        )
    return Path(value).expanduser()


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, turning I/O and syntax errors into ConfigError (with the line)."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError("fichier de configuration introuvable", path=path) from exc
    except OSError as exc:
        raise ConfigError(f"fichier illisible ({exc.strerror})", path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already says "at line N, column M".
        raise ConfigError(f"TOML invalide : {exc}", path=path) from exc


def load_config(path: Path) -> FmtConfig:
    """Read and validate the configuration file at `path`."""
    path = path.absolute()
    root = Section(read_toml(path), name="", source=path, base_dir=path.parent)

    practice = root.table("practice")
    practice_settings = PracticeSettings(
        name=practice.string("name", ""),
        patient_id_authorities=practice.string_list("patient_id_authorities"),
        phone=practice.string("phone", ""),
        doctor=practice.string("doctor", ""),
        address=practice.string_list("address"),
        city=practice.string("city", ""),
        territory=practice.string("territory", "metropole"),
        doctor_situation=_doctor_situation(practice),
    )
    practice.finish()

    store = root.table("store", required=True)
    store_settings = StoreSettings(
        path=store.path("path", "fmt.sqlite3"),
        key_file=store.path("key_file", "fmt.key", must_exist=True),
        key_passphrase=store.secret("key_passphrase"),
        min_free_mb=store.integer(
            "min_free_mb", StoreSettings.min_free_mb, minimum=0, maximum=1_000_000
        ),
        reencrypt_slice_rows=store.integer(
            "reencrypt_slice_rows",
            StoreSettings.reencrypt_slice_rows,
            minimum=1,
            maximum=100_000,
        ),
    )
    store.finish()

    audit = root.table("audit")
    journal = audit.string("journal_socket", "/dev/log")
    audit_settings = AuditSettings(
        anchor_file=audit.optional_path("anchor_file")
        or default_anchor_file(store_settings.key_file),
        journal_socket=resolve_path(audit.base_dir, journal) if journal else None,
    )
    audit.finish()

    plugins = root.table("plugins")
    plugin_settings = PluginSettings(
        modules=plugins.string_list("modules"), disable=plugins.string_list("disable")
    )
    plugins.finish()

    logs = root.table("logging")
    logging_settings = LoggingSettings(
        level=logs.string("level", "INFO", choices=LOG_LEVELS),
        json=logs.boolean("json", False),
        # Beside the database by default: the data folder is the one place the service
        # account may write (the configuration's folder may be read-only, /etc/fmt-plugin).
        file=logs.optional_path("file") or store_settings.path.parent / LOG_FILE_NAME,
    )
    logs.finish()

    rules = root.table("rules")
    rules_settings = RulesSettings(
        pack=rules.string("pack", RulesSettings.pack),
        files=tuple(
            _existing_file(rules, "files", resolve_path(rules.base_dir, name))
            for name in rules.string_list("files")
        ),
        variants=_rule_variants(rules.table("variants")),
    )
    rules.finish()

    roster = root.table("roster")
    roster_settings = RosterSettings(
        max_retire_percent=roster.integer(
            "max_retire_percent",
            RosterSettings.max_retire_percent,
            minimum=0,
            maximum=100,
        )
    )
    roster.finish()

    mllp_settings = _mllp_settings(root.table("mllp"))
    hl7 = root.table("hl7")
    hl7_settings = Hl7Settings(
        parser=hl7.string("parser", Hl7Settings.parser, choices=("er7", "hl7apy")),
        unsupported_version_ack=hl7.string(
            "unsupported_version_ack",
            Hl7Settings.unsupported_version_ack,
            choices=("AR", "AE"),
        ),
    )
    hl7.finish()

    recall_settings = _recall_settings(root.table("recalls"))
    http_settings = _http_settings(root.table("http"))
    service = root.table("service")
    service_settings = ServiceSettings(
        shutdown_timeout_s=service.seconds(
            "shutdown_timeout_s", ServiceSettings.shutdown_timeout_s
        )
    )
    service.finish()

    adapters = root.table("adapters")
    adapter_tables = {name: adapters.table(name).raw for name in adapters.names()}
    adapters.finish()
    channels = root.table("channels")
    channel_tables = {name: channels.table(name).raw for name in channels.names()}
    channels.finish()
    root.finish()
    return FmtConfig(
        path=path,
        store=store_settings,
        audit=audit_settings,
        practice=practice_settings,
        plugins=plugin_settings,
        logging=logging_settings,
        rules=rules_settings,
        roster=roster_settings,
        mllp=mllp_settings,
        hl7=hl7_settings,
        recalls=recall_settings,
        http=http_settings,
        service=service_settings,
        adapter_tables=adapter_tables,
        channel_tables=channel_tables,
    )


def _rule_variants(section: Section) -> dict[str, str]:
    """`[rules] variants`: indicator id → variant name (checked later, against the pack)."""
    variants = {name: section.string(name) for name in section.names()}
    section.finish()
    return variants


def _doctor_situation(practice: Section) -> DoctorSituation:
    """The `[practice]` keys of the forfait socle's majorations."""
    return DoctorSituation(
        zone=practice.string("zone", DoctorSituation.zone, choices=ZONES),
        primo_installation_date=practice.optional_date("primo_installation_date"),
        doctor_birth_date=practice.optional_date("doctor_birth_date"),
    )


def _mllp_settings(mllp: Section) -> MllpSettings:
    defaults = MllpSettings()
    port = mllp.integer("port", defaults.port, minimum=0, maximum=65535)
    timeout = mllp.seconds("idle_timeout_s", defaults.idle_timeout_s)
    max_bytes = mllp.integer(
        "max_message_bytes", defaults.max_message_bytes, minimum=1024
    )
    buffered = mllp.integer(
        "max_buffered_bytes", defaults.max_buffered_bytes, minimum=1024
    )
    if buffered < max_bytes:
        # Else a message of the largest allowed size could never be received.
        raise mllp.error(
            "max_buffered_bytes",
            f"valeur {buffered} inférieure à max_message_bytes ({max_bytes})",
            "au moins max_message_bytes",
        )
    settings = MllpSettings(
        host=mllp.string("host", defaults.host),
        port=port,
        max_message_bytes=max_bytes,
        idle_timeout_s=timeout,
        max_connections=mllp.integer(
            "max_connections",
            defaults.max_connections,
            minimum=1,
            maximum=MAX_CONNECTIONS_LIMIT,
        ),
        frame_timeout_s=mllp.seconds("frame_timeout_s", defaults.frame_timeout_s),
        max_buffered_bytes=buffered,
        tls_cert=mllp.optional_path("tls_cert", must_exist=True),
        tls_key=mllp.optional_path("tls_key", must_exist=True),
        tls_client_ca=mllp.optional_path("tls_client_ca", must_exist=True),
        tls_client_subjects=mllp.string_list("tls_client_subjects"),
    )
    if (settings.tls_cert is None) != (settings.tls_key is None):
        missing = "tls_key" if settings.tls_key is None else "tls_cert"
        raise mllp.error(
            missing, "TLS demande le certificat et sa clé", "les deux clés"
        )
    if settings.tls_key is not None:
        check_private_mode(settings.tls_key, key=mllp.dotted("tls_key"))
    if settings.tls_client_ca is not None and settings.tls_cert is None:
        raise mllp.error(
            "tls_client_ca", "le TLS mutuel suppose le TLS", "tls_cert et tls_key"
        )
    if settings.tls_client_subjects and settings.tls_client_ca is None:
        raise mllp.error(
            "tls_client_subjects",
            "une liste de sujets suppose des certificats clients",
            "tls_client_ca",
        )
    mllp.finish()
    return settings


def _http_settings(section: Section) -> HttpSettings:
    defaults = HttpSettings()
    settings = HttpSettings(
        enabled=section.boolean("enabled", defaults.enabled),
        host=section.string("host", defaults.host),
        port=section.integer("port", defaults.port, minimum=0, maximum=65535),
        tls_cert=section.optional_path("tls_cert", must_exist=True),
        tls_key=section.optional_path("tls_key", must_exist=True),
        session_idle_minutes=section.integer(
            "session_idle_minutes", defaults.session_idle_minutes, minimum=1
        ),
        login_max_failures=section.integer(
            "login_max_failures", defaults.login_max_failures, minimum=1
        ),
        login_lockout_minutes=section.integer(
            "login_lockout_minutes", defaults.login_lockout_minutes, minimum=1
        ),
    )
    if (settings.tls_cert is None) != (settings.tls_key is None):
        missing = "tls_key" if settings.tls_key is None else "tls_cert"
        raise section.error(
            missing, "TLS demande le certificat et sa clé", "les deux clés"
        )
    if settings.tls_key is not None:
        check_private_mode(settings.tls_key, key=section.dotted("tls_key"))
    if settings.enabled and not settings.loopback_only and settings.tls_cert is None:
        raise section.error(
            "host",
            f"le tableau de bord montre des données de santé : l'adresse {settings.host!r}"
            " est joignable depuis le réseau, elle exige TLS",
            "127.0.0.1, ou tls_cert et tls_key",
        )
    section.finish()
    return settings


def _recall_settings(section: Section) -> RecallSettings:
    defaults = RecallSettings()
    policy = RecallPolicy(
        lead_days=section.integer("lead_days", defaults.policy.lead_days, minimum=0),
        reminder_after_days=section.integer(
            "reminder_after_days", defaults.policy.reminder_after_days, minimum=1
        ),
        max_steps=section.integer("max_steps", defaults.policy.max_steps, minimum=1),
        min_days_between_messages=section.integer(
            "min_days_between_messages",
            defaults.policy.min_days_between_messages,
            minimum=0,
        ),
        adult_age=section.integer("adult_age", defaults.policy.adult_age, minimum=1),
        catch_up=section.boolean("catch_up", defaults.policy.catch_up),
    )
    settings = RecallSettings(
        policy=policy,
        planning_time=_clock_time(section, "planning_time", defaults.planning_time),
        planning_days=_weekdays(section, "planning_days", defaults.planning_days),
        delivery_every_minutes=section.integer(
            "delivery_every_minutes", defaults.delivery_every_minutes, minimum=1
        ),
        sending_from=_clock_time(section, "sending_from", defaults.sending_from),
        sending_until=_clock_time(section, "sending_until", defaults.sending_until),
        sending_days=_weekdays(section, "sending_days", defaults.sending_days),
        alsace_moselle=section.boolean("alsace_moselle", defaults.alsace_moselle),
        snapshot_time=_clock_time(section, "snapshot_time", defaults.snapshot_time),
        retry_base_s=section.integer("retry_base_s", defaults.retry_base_s, minimum=1),
        retry_max_s=section.integer("retry_max_s", defaults.retry_max_s, minimum=1),
        max_attempts=section.integer("max_attempts", defaults.max_attempts, minimum=1),
        jobstore=section.path("jobstore", "jobs.sqlite3"),
        templates=_templates_folder(section),
    )
    if settings.sending_until <= settings.sending_from:
        raise section.error(
            "sending_until",
            "la fin des envois doit suivre leur début",
            f"une heure après {settings.sending_from:%H:%M}",
        )
    if settings.retry_max_s < settings.retry_base_s:
        raise section.error(
            "retry_max_s", "plus petit que retry_base_s", f"≥ {settings.retry_base_s}"
        )
    section.finish()
    return settings


def _templates_folder(section: Section) -> Path | None:
    """`templates`: an existing folder of letter templates, or None (the shipped ones)."""
    folder = section.optional_path("templates")
    if folder is not None and not folder.is_dir():
        raise section.error(
            "templates",
            f"dossier introuvable : {folder}",
            "un dossier de modèles de lettres",
        )
    return folder


def _clock_time(section: Section, key: str, default: datetime.time) -> datetime.time:
    text = section.string(key, default.strftime("%H:%M"))
    try:
        hours, minutes = (int(part) for part in text.split(":"))
        return datetime.time(hours, minutes)
    except ValueError:
        raise section.error(
            key, f"heure {text!r} invalide", "HH:MM, ex. 08:00"
        ) from None


def _weekdays(section: Section, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    days = section.string_list(key, default)
    unknown = [day for day in days if day not in WEEKDAYS]
    if unknown or not days:
        raise section.error(
            key,
            f"jour(s) inconnu(s) : {', '.join(unknown)}" if unknown else "liste vide",
            "des jours parmi " + ", ".join(WEEKDAYS),
        )
    return tuple(day for day in WEEKDAYS if day in days)
