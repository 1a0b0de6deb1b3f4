"""Create a new installation in a folder: annotated `fmt.toml`, a fresh key file, an empty store.

All or nothing: the roster and acts files are read before anything is written, and whatever
this run created is removed if a later step fails, so the same `init` can simply be run again
once the cause is fixed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fmt_plugin.adapters.csv_roster import read_acts, read_roster
from fmt_plugin.config import AUDIT_ANCHOR_SUFFIX, default_anchor_file
from fmt_plugin.errors import ConfigError, KeyFileError
from fmt_plugin.private_files import create_privately
from fmt_plugin.storage import Store, generate_key_file
from fmt_plugin.storage.audit_anchor import AuditAnchor, SyslogJournal

CONFIG_NAME = "fmt.toml"
KEY_NAME = "fmt.key"
STORE_NAME = "fmt.sqlite3"


@dataclass(frozen=True)
class InitOptions:
    """What `fmt-plugin init` was asked for."""

    directory: Path
    roster: Path | None = None
    acts: Path | None = None
    passphrase_env: str | None = None
    practice_name: str = ""
    practice_phone: str = ""
    #: `[practice] doctor`: who signs the recall letters ("Dr Marie Martin").
    doctor: str = ""
    #: `[practice] address` and `city`: the printed letters' letterhead and date line.
    address: tuple[str, ...] = ()
    city: str = ""
    #: Replaces the commented `[adapters.csv_roster]` block (e.g. `[adapters.demo]`).
    adapter_block: str | None = None
    #: The `init` audit entry's detail: which adapter the installation was created with.
    origin: str | None = None


def init_installation(
    options: InitOptions,
    *,
    actor: str,
    then: Callable[[Path], None] | None = None,
) -> Path:
    """Create the installation and return the path of its configuration file.

    Nothing is overwritten: an existing key file, configuration or store stops everything before
    the first write, because overwriting a key makes every encrypted value unreadable for good.
    The roster and acts files are read first (`InputError` if one cannot be read at all). `then`
    runs on the finished installation (the command's first sync). If any step after the first
    write fails, `then` included, every file and folder this run created is removed (and only
    those) before the error propagates.
    """
    directory = options.directory.absolute()
    config_path = directory / CONFIG_NAME
    key_path = directory / KEY_NAME
    store_path = directory / STORE_NAME
    if directory.exists() and not directory.is_dir():
        raise ConfigError(
            "n'est pas un dossier", path=directory, expected="un dossier, neuf ou non"
        )
    _refuse_existing(key_path, config_path, store_path)
    roster = _existing_input(options.roster, "--roster")
    acts = _existing_input(options.acts, "--acts")
    if acts is not None and roster is None:
        raise ConfigError("--acts n'a de sens qu'avec --roster", expected="--roster")
    passphrase = _passphrase(options.passphrase_env)
    if roster is not None:
        patients, _ = read_roster(roster)
        if acts is not None:
            read_acts(acts, {patient.patient_id for patient in patients})

    with _undone_on_failure(directory):
        # The folder holds the key: only its owner may list or enter it.
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        keyring = generate_key_file(key_path, passphrase=passphrase)
        anchor = AuditAnchor(default_anchor_file(key_path), journal=SyslogJournal())
        with Store.create(store_path, keyring, actor=actor, anchor=anchor) as store:
            store.record_admin_action(
                actor=actor,
                action="installation.init",
                detail=options.origin or ("csv_roster" if roster else None),
            )
        text = render_config(
            store_path=STORE_NAME,
            key_file=KEY_NAME,
            roster=roster,
            acts=acts,
            passphrase_env=options.passphrase_env,
            practice_name=options.practice_name,
            practice_phone=options.practice_phone,
            doctor=options.doctor,
            address=options.address,
            city=options.city,
            adapter_block=options.adapter_block,
        )
        # 0600 from its creation: it says where the key is and which variables hold the
        # secrets. O_EXCL: a configuration that appeared since the check is not replaced.
        try:
            create_privately(config_path, text.encode("utf-8"))
        except FileExistsError:
            _refuse_existing(config_path)
            raise
        if then is not None:
            then(config_path)
    return config_path


@contextlib.contextmanager
def _undone_on_failure(directory: Path) -> Iterator[None]:
    """Remove, if the block raises, what appeared in `directory` (or the folders made for it).

    What was there before is never touched: the entries are listed before the block, and a
    folder is removed whole only when it did not exist before.
    """
    first_new = None
    for folder in (directory, *directory.parents):
        if folder.exists():
            break
        first_new = folder
    before = set(os.listdir(directory)) if first_new is None else set()
    try:
        yield
    except BaseException:
        if first_new is not None:
            shutil.rmtree(first_new, ignore_errors=True)
        elif directory.is_dir():
            for name in set(os.listdir(directory)) - before:
                _remove(directory / name)
        raise


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _refuse_existing(*paths: Path) -> None:
    for path in paths:
        if path.exists():
            error = KeyFileError if path.name == KEY_NAME else ConfigError
            raise error(
                "existe déjà : init ne remplace jamais une installation",
                path=path,
                expected="un dossier sans installation",
            )


def _existing_input(path: Path | None, option: str) -> Path | None:
    if path is None:
        return None
    resolved = path.expanduser().absolute()
    if not resolved.is_file():
        raise ConfigError(
            f"{option} : fichier introuvable", path=resolved, expected="un fichier CSV"
        )
    return resolved


def _passphrase(env_var: str | None) -> str | None:
    if env_var is None:
        return None
    value = os.environ.get(env_var)
    if not value:
        raise ConfigError(
            f"--passphrase-env : la variable {env_var} est vide ou absente",
            expected="une phrase de passe dans cette variable",
        )
    return value


def _toml_string(value: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(value, ensure_ascii=False)


def render_config(
    *,
    store_path: str,
    key_file: str,
    roster: Path | None = None,
    acts: Path | None = None,
    passphrase_env: str | None = None,
    practice_name: str = "",
    practice_phone: str = "",
    doctor: str = "",
    address: tuple[str, ...] = (),
    city: str = "",
    adapter_block: str | None = None,
) -> str:
    """The annotated configuration file; every setting is present or shown commented out."""
    passphrase_line = (
        f'key_passphrase = {{ "$env" = {_toml_string(passphrase_env)} }}'
        if passphrase_env
        else '# key_passphrase = { "$env" = "FMT_KEY_PASSPHRASE" }'
    )
    if adapter_block is not None:
        roster_block = adapter_block
    elif roster is not None:
        roster_block = (
            _CSV_ROSTER_COMMENT
            + "[adapters.csv_roster]\n"
            + f"roster = {_toml_string(str(roster))}\n"
        )
        roster_block += (
            f"acts = {_toml_string(str(acts))}\n"
            if acts
            else '# acts = "/chemin/vers/actes.csv"\n'
        )
        roster_block += _CSV_FORMAT_LINES
    else:
        roster_block = (
            _CSV_ROSTER_COMMENT + "# [adapters.csv_roster]\n"
            '# roster = "/chemin/vers/patients.csv"\n'
            '# acts = "/chemin/vers/actes.csv"\n' + _CSV_FORMAT_LINES
        )
    return _TEMPLATE.format(
        practice_name=_toml_string(practice_name),
        practice_phone=_toml_string(practice_phone),
        doctor=_toml_string(doctor),
        address="[" + ", ".join(map(_toml_string, address)) + "]",
        city=_toml_string(city),
        store_path=_toml_string(store_path),
        key_file=_toml_string(key_file),
        anchor_file=_toml_string(key_file + AUDIT_ANCHOR_SUFFIX),
        passphrase_line=passphrase_line,
        roster_block=roster_block,
    )


_CSV_ROSTER_COMMENT = """\
# Adaptateur intégré « csv_roster » : la patientèle exportée par le logiciel médical
# (patient_id,ins,nom,prenom,date_naissance,sexe,ald,conditions,flags,opposition,
# mssante,email,telephone, et la colonne facultative c2s) et, facultativement, ses actes (patient_id,date,system,code).
# Séparateur, encodage et forme des dates sont détectés dans chaque fichier (« auto ») :
# « ; », « , » ou tabulation ; UTF-8 (avec ou sans BOM), sinon Windows-1252 ;
# JJ/MM/AAAA ou AAAA-MM-JJ. Pour les imposer, décommentez et remplacez « auto » par :
# pour delimiter ";", "," ou "\\t" ; pour encoding "utf-8", "cp1252" (Windows-1252),
# "latin-1" ou "iso-8859-15" ; pour date_format "JJ/MM/AAAA" ou "AAAA-MM-JJ".
"""

_CSV_FORMAT_LINES = """\
# delimiter = "auto"
# encoding = "auto"
# date_format = "auto"
"""

_TEMPLATE = """\
# Configuration de fmt-plugin (suivi des indicateurs du Forfait Médecin Traitant).
# Les chemins relatifs partent du dossier de ce fichier. Une clé inconnue ou mal typée
# arrête le programme avec un message qui la nomme : rien n'est ignoré en silence.
# Les secrets ne s'écrivent jamais en clair ici : {{ "$env" = "VARIABLE" }} ou
# {{ "$file" = "chemin" }}.

[practice]
# Nom du cabinet, tel qu'il apparaîtra dans les rappels envoyés aux patients.
name = {practice_name}
# Téléphone du cabinet, indiqué dans chaque rappel pour prendre rendez-vous.
phone = {practice_phone}
# Médecin qui signe les rappels, écrit comme sous sa signature (ex. "Dr Marie Martin") ;
# vide : le cabinet signe seul.
doctor = {doctor}
# Adresse du cabinet, ligne par ligne, en tête des lettres d'invitation imprimées
# (ex. ["12 rue des Tilleuls", "75011 Paris"]) ; vide : pas d'adresse.
address = {address}
# Ville d'où les lettres imprimées sont datées (« Paris, le 3 décembre 2026 ») ;
# vide : la date seule.
city = {city}
# Territoire dont les campagnes grippe et Covid-19 s'appliquent : "metropole", "mayotte",
# "reunion" ou "antilles_guyane" (dates par défaut, à confirmer : fmt-plugin rules).
territory = "metropole"
# Autorités d'affectation (nom ou OID, PID-3.4 en HL7) sous lesquelles l'identifiant
# « PI » d'un message est l'identifiant patient du cabinet. Vide : seul l'INS rapproche.
patient_id_authorities = []
# Rémunération FMT (fmt-plugin remuneration) : ce qui majore le forfait socle. Une seule
# majoration s'applique, la plus forte (elles ne se cumulent pas).
# Zone du cabinet : "aucune", "zip" (zone d'intervention prioritaire, +10 %) ou "qpv"
# (quartier prioritaire de la politique de la ville, +10 %).
# zone = "aucune"
# Première installation en libéral (primo-installation), en ZIP ou QPV seulement :
# +50 % l'année civile qui suit l'installation, +30 % la suivante. Date sans guillemets.
# primo_installation_date = 2026-01-05
# Date de naissance du médecin : +10 % à partir de 67 ans (âge au 31/12 de l'année
# précédente). Date sans guillemets.
# doctor_birth_date = 1958-06-30

[store]
# Base de données chiffrée (SQLite, un seul fichier). Toute donnée patient y est
# chiffrée en AES-256-GCM ; sans le fichier de clés, elle est illisible.
path = {store_path}
# Fichier de clés (mode 0600 obligatoire). À sauvegarder À PART de la base : qui perd
# ce fichier perd les données ; qui vole les deux les lit.
key_file = {key_file}
# Phrase de passe protégeant le fichier de clés, si `init --passphrase-env` a été utilisé.
{passphrase_line}
# Espace libre minimal (Mo) du disque de la base : en dessous, /health répond 503
# « base non inscriptible : disque plein » avant que les messages soient refusés (0 : non vérifié).
# min_free_mb = 50
# Rotation des clés (`fmt-plugin keys rotate`) : nombre de valeurs ré-chiffrées par
# transaction, en arrière-plan ; plus petit, moins d'attente pour les messages HL7.
# reencrypt_slice_rows = 500

[audit]
# Ancre du journal d'audit : la dernière entrée (numéro et MAC) recopiée hors de la base,
# là où remettre une ancienne copie de la base ne l'atteint pas. Par défaut à côté du
# fichier de clés ; le service doit pouvoir y écrire.
anchor_file = {anchor_file}
# Socket du journal système où chaque nouvelle tête du journal est aussi consignée
# ("" : aucune).
journal_socket = "/dev/log"

[plugins]
# Modules Python à charger comme adaptateurs, en plus des paquets installés qui
# déclarent le point d'entrée `fmt_plugin.adapters`.
modules = []
# Adaptateurs à ne pas charger (par nom), y compris les adaptateurs intégrés.
disable = []

[logging]
# Niveau des journaux : "DEBUG", "INFO", "WARNING" ou "ERROR". Aucun niveau ne
# journalise de donnée patient : seuls les identifiants internes apparaissent.
level = "INFO"
# true : une ligne JSON par événement (pour un collecteur de journaux).
json = false

[rules]
# Jeu de règles qui évalue les 15 indicateurs (« fmt-2026 » : celui livré avec fmt-plugin).
pack = "fmt-2026"
# Jeux de règles propres au cabinet (fichiers TOML, voir docs/rule-packs.md). Un jeu qui
# porte le même identifiant que celui livré le remplace ; un jeu mal formé arrête le
# programme avec le fichier, l'indicateur et la clé en cause.
files = []
# Variantes de règle proposées par le jeu, par indicateur. HbA1c : « default » = un dosage
# dans les 6 derniers mois (le tableau du FMT) ; « rosp » = au moins 2 dosages dans l'année
# civile (l'ancienne ROSP). Voir docs/indicators.md.
# variants = {{ suivi_hba1c = "rosp" }}

[mllp]
# Réception HL7 v2 (résultats ORU^R01, vaccinations VXU^V04) en MLLP. Par défaut, seul ce
# poste peut se connecter (127.0.0.1) ; "0.0.0.0" ouvre le réseau : activez alors le TLS.
host = "127.0.0.1"
port = 2575
# Taille maximale d'un message (octets) : un compte rendu avec PDF ou CDA dépasse le Mo.
max_message_bytes = 16777216
# Une connexion silencieuse pendant ce délai (secondes) est fermée.
idle_timeout_s = 300
# Limites face à un afflux d'émetteurs, lents ou trop nombreux : au plus max_connections
# connexions à la fois (les suivantes sont fermées aussitôt) ; un message commencé doit être
# reçu en entier dans les frame_timeout_s secondes, quoi qu'il arrive octet par octet ; les
# messages en cours de réception occupent au plus max_buffered_bytes octets à eux tous
# (au-delà, la connexion est fermée sans accusé de réception : l'émetteur renverra le
# message). max_buffered_bytes ne peut être inférieur à max_message_bytes.
max_connections = 256
frame_timeout_s = 120
max_buffered_bytes = 67108864
# TLS : certificat et clé du serveur (PEM). Avec tls_client_ca, chaque client doit
# présenter un certificat émis par cette autorité (TLS mutuel), et, si la liste n'est pas
# vide, l'un des sujets de tls_client_subjects (ex. "CN=passerelle,O=Laboratoire").
# La clé privée doit être en 0600 (chmod 600) : plus ouverte, le service refuse de démarrer.
# tls_cert = "/etc/fmt/mllp.crt"
# tls_key = "/etc/fmt/mllp.key"
# tls_client_ca = "/etc/fmt/clients-ca.pem"
# tls_client_subjects = []

[hl7]
# Analyseur : "er7" (celui de fmt-plugin, rapide) ou "hl7apy" (la bibliothèque de
# référence, environ 16 ms par message). Les deux donnent le même résultat (testé).
parser = "er7"
# Réponse à une version HL7 non prise en charge : "AR" (règle HL7) ou "AE" (exemples ANS).
unsupported_version_ack = "AR"

[recalls]
# Rappels aux patients. Un rappel pour chaque indicateur « à vérifier », et pour ceux qui
# arrivent à échéance dans lead_days jours ; une relance reminder_after_days jours après un
# envoi si rien n'est fait, au plus max_steps envois par échéance. Grippe et covid : pendant
# la campagne de vaccination seulement. Jamais en cas d'opposition, de refus ou de report.
# Jamais deux messages sur un même indicateur à moins de reminder_after_days jours d'écart.
lead_days = 30
reminder_after_days = 30
max_steps = 2
# Délai minimal entre deux messages à un même patient, quel qu'en soit le sujet : ce qui
# arrive à échéance entre-temps attend le message suivant (0 : pas de délai).
min_days_between_messages = 7
# Âge à partir duquel le patient reçoit ses rappels lui-même ; avant, ils s'adressent à ses
# parents (à l'adresse de l'enfant).
adult_age = 18
# Rattrapages : un indicateur de l'enfant dont la fenêtre d'âge est passée sans l'acte
# (« À vérifier (rattrapage) ») ne compte plus pour le FMT ; pas de rappel, sauf true.
catch_up = false
# Planification quotidienne (jours ouvrés, jamais les jours fériés) et envois, toutes les
# delivery_every_minutes minutes, aux heures et jours indiqués seulement.
planning_time = "08:00"
planning_days = ["mon", "tue", "wed", "thu", "fri"]
delivery_every_minutes = 5
sending_from = "08:00"
sending_until = "19:00"
sending_days = ["mon", "tue", "wed", "thu", "fri", "sat"]
# Jours fériés d'Alsace-Moselle en plus (Vendredi saint, 26 décembre).
alsace_moselle = false
# Échec temporaire (serveur indisponible…) : nouvel essai après retry_base_s secondes, délai
# doublé à chaque fois jusqu'à retry_max_s, abandon après max_attempts essais.
retry_base_s = 300
retry_max_s = 21600
max_attempts = 6
# Instantané nocturne des taux d'atteinte par indicateur (historique).
snapshot_time = "02:00"
# Tâches planifiées (aucune donnée patient dans ce fichier).
jobstore = "jobs.sqlite3"
# Modèles de lettres propres au cabinet : un fichier de ce dossier remplace le modèle livré
# du même nom (letter.txt.j2, wording.txt.j2, indicators/dep_sein.txt.j2…, voir
# docs/recalls.md) ; un modèle invalide arrête le démarrage avec le fichier et la ligne.
# templates = "modeles/"

[http]
# Le tableau de bord du cabinet (http://127.0.0.1:8575/, comptes : `fmt-plugin users add`)
# et la page d'état du service : /health (200 si tout fonctionne, 503 sinon) pour la
# supervision, /status (JSON, aucune donnée patient). Le tableau de bord montre des données
# de santé : sur une autre adresse que 127.0.0.1, TLS est obligatoire (tls_cert, tls_key),
# sinon le service refuse de démarrer.
enabled = true
host = "127.0.0.1"
port = 8575
# tls_cert = "certs/tableau-de-bord.crt"
# tls_key = "certs/tableau-de-bord.key"      # en 0600, comme toute clé privée
# Une session sans activité se ferme après ce délai (minutes).
session_idle_minutes = 30
# Après ce nombre d'échecs de connexion de suite, le compte est verrouillé (minutes).
login_max_failures = 5
login_lockout_minutes = 15

[service]
# À l'arrêt (SIGTERM, Ctrl-C) : délai maximal, en secondes, pour terminer les messages en
# cours et l'envoi en cours avant de fermer la base. Au-delà, arrêt forcé sans perte : un
# message non acquitté sera renvoyé par l'expéditeur, un rappel interrompu est signalé.
shutdown_timeout_s = 10

[channels.file]
# Canal « fichier » : chaque rappel est écrit en .eml dans ce dossier au lieu d'être envoyé,
# pour voir ce que le cabinet enverrait. Retirez cette section quand MSSanté est configuré.
folder = "outbox"
# Expéditeur écrit dans les fichiers (par défaut : celui de [channels.mssante], s'il existe).
# sender = "cabinet.dupont@medecin.mssante.fr"

# Canal MSSanté : envoi SMTP avec le certificat logiciel IGC Santé de la BAL du cabinet.
# [channels.mssante]
# host = "smtp.mssante.example.fr"
# port = 587
# tls = "starttls"
# client_cert = "/etc/fmt/bal-cabinet.crt"
# client_key = "/etc/fmt/bal-cabinet.key"   # en 0600, comme toute clé privée
# ca_file = "/etc/fmt/igc-sante-ca.pem"
# sender = "cabinet.dupont@medecin.mssante.fr"
# address_template = "{{ins}}@patient.mssante.fr"
# Phrase de passe de la clé privée, si elle est chiffrée (jamais en clair ici).
# client_key_passphrase = {{ "$env" = "FMT_MSSANTE_KEY_PASSPHRASE" }}
# Délai maximal d'un échange SMTP, en secondes.
# timeout_s = 30
# true : le patient ne peut pas répondre au message (en-tête X-MSS-MES: FIN).
# reply_blocked = true
# Référence du logiciel émetteur (en-tête X-MSS-NIL).
# product_reference = "fmt-plugin/VERSION"

[roster]
# « sync » s'arrête sans rien changer s'il retirerait plus de ce pourcentage des patients
# actifs (export tronqué ou mal lu) : « sync --allow-retire » passe outre. Un patient
# retiré n'est jamais supprimé ; il redevient actif s'il revient dans l'export.
max_retire_percent = 10

{roster_block}"""
