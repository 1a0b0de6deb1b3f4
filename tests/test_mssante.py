"""MSSanté: settings, patient addresses, and submission to a real mutual-TLS SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import smtplib
import socket
import ssl
from dataclasses import replace
from pathlib import Path

import pytest
import trustme
from recall_data import CREATED_AT, INS, ins_patient, recall_message
from smtp_server import HOST, Pki, RecordingHandler, make_pki, smtp_server

from fmt_plugin import __version__, hookimpl
from fmt_plugin.config import load_config
from fmt_plugin.errors import (
    ConfigError,
    PermanentChannelError,
    TemporaryChannelError,
    UncertainDeliveryError,
)
from fmt_plugin.hooks.host import adapter_infos, build_plugin_manager
from fmt_plugin.model import RecallChannel
from fmt_plugin.mssante import (
    MssanteChannel,
    MssanteSettings,
    patient_address,
    read_mssante_settings,
)
from fmt_plugin.mssante.address import TemplateError, check_template
from fmt_plugin.mssante.transport import dot_stuffed
from fmt_plugin.recalls.file_channel import FileChannel
from fmt_plugin.recalls.model import RecallMessage

INS_ADDRESS = f"{INS}@patient.mssante.fr"
SENDER = "rappels@cabinet-lilas.mssante.fr"
TLS_MODES = ("starttls", "implicit")


@pytest.fixture
def pki(tmp_path) -> Pki:
    return make_pki(tmp_path)


def settings_for(
    pki: Pki, port: int, tls: str = "starttls", **changes
) -> MssanteSettings:
    settings = MssanteSettings(
        host=HOST,
        port=port,
        tls="implicit" if tls == "implicit" else "starttls",
        sender=SENDER,
        client_cert=pki.client_cert,
        client_key=pki.client_key,
        ca_file=pki.ca_file,
        timeout_s=5.0,
    )
    return replace(settings, **changes)


def deliver(settings: MssanteSettings, message: RecallMessage | None = None) -> None:
    channel = MssanteChannel(settings, clock=lambda: CREATED_AT)
    asyncio.run(channel.send(message or recall_message()))


def received_letter(handler: RecordingHandler) -> email.message.EmailMessage:
    (envelope,) = handler.received
    assert isinstance(envelope.original_content, bytes)
    parsed = email.message_from_bytes(
        envelope.original_content, policy=email.policy.default
    )
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def write_config(folder: Path, body: str) -> Path:
    (folder / "fmt.key").write_text("{}")
    path = folder / "fmt.toml"
    path.write_text("[store]\n" + body, encoding="utf-8")
    return path


def mssante_table(pki: Pki, extra: str = "") -> str:
    return (
        "[channels.mssante]\n"
        'host = "mssante.example.org"\n'
        f'sender = "{SENDER}"\n'
        f'client_cert = "{pki.client_cert.name}"\n'
        f'client_key = "{pki.client_key.name}"\n'
        f'ca_file = "{pki.ca_file.name}"\n' + extra
    )


def settings_from(path: Path) -> MssanteSettings:
    section = load_config(path).channel_section("mssante")
    assert section is not None
    return read_mssante_settings(section)


# --- addresses -----------------------------------------------------------------------


def test_address_derives_from_the_qualified_ins():
    """Without a roster address, the template is filled with the INS."""
    assert patient_address(ins_patient()) == INS_ADDRESS
    assert (
        patient_address(ins_patient(), "{ins}@test.mssante.fr")
        == f"{INS}@test.mssante.fr"
    )


def test_roster_address_wins_over_the_ins():
    """The roster's `mssante` column is used when present."""
    who = ins_patient(mssante=" paul.durand@patient.mssante.fr ")
    assert patient_address(who) == "paul.durand@patient.mssante.fr"


def test_malformed_roster_address_falls_back_to_the_ins():
    """A roster address that is no address is ignored in favour of the INS."""
    assert patient_address(ins_patient(mssante="pas une adresse")) == INS_ADDRESS


def test_no_qualified_ins_and_no_roster_address_gives_no_address():
    """A missing or invalid INS (wrong key) yields None, never a guess."""
    assert patient_address(ins_patient(ins=None)) is None
    assert patient_address(ins_patient(ins="146026322000197")) is None


@pytest.mark.parametrize(
    ("template", "fault"),
    [
        ("{nom}@patient.mssante.fr", "{nom}"),
        ("{ins!r}@patient.mssante.fr", "{ins}"),
        ("{ins:>20}@patient.mssante.fr", "{ins}"),
        ("patient.mssante.fr", "{ins}"),
        ("{ins}", "adresse"),
        ("{ins@x.fr", "accolades"),
    ],
)
def test_template_allows_only_the_ins_field(template, fault):
    """A template with another field, a format, no field or no domain is refused."""
    with pytest.raises(
        TemplateError, match=fault.replace("{", r"\{").replace("}", r"\}")
    ):
        check_template(template)


# --- settings ------------------------------------------------------------------------


def test_settings_take_the_documented_defaults(pki):
    """STARTTLS on 587, the Mon espace santé template, replies blocked, 30 s timeout."""
    settings = settings_from(write_config(pki.folder, mssante_table(pki)))
    assert (settings.tls, settings.port) == ("starttls", 587)
    assert settings.address_template == "{ins}@patient.mssante.fr"
    assert settings.reply_blocked is True
    assert settings.timeout_s == 30.0
    assert settings.product_reference == f"fmt-plugin/{__version__}"
    assert settings.client_cert == pki.client_cert


def test_implicit_tls_defaults_to_port_465(pki):
    """`tls = "implicit"` without a port means SMTPS on 465."""
    path = write_config(pki.folder, mssante_table(pki, 'tls = "implicit"\n'))
    assert settings_from(path).port == 465


def test_settings_repr_hides_the_key_passphrase(pki, monkeypatch):
    """A passphrase given by reference is read but never shown in repr."""
    monkeypatch.setenv("FMT_TEST_KEY_PASS", "s3cret-passphrase")
    extra = 'client_key_passphrase = { "$env" = "FMT_TEST_KEY_PASS" }\n'
    settings = settings_from(write_config(pki.folder, mssante_table(pki, extra)))
    assert settings.client_key_passphrase == "s3cret-passphrase"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('address_template = "{nom}@patient.mssante.fr"\n', "address_template"),
        ('tls = "ssl"\n', "tls"),
        ("port = 70000\n", "port"),
        ("timeout_s = 0\n", "timeout_s"),
        ('product_reference = "é"\n', "product_reference"),
        ('adress_template = "{ins}@x.fr"\n', "adress_template"),
    ],
)
def test_bad_setting_is_refused_naming_its_key(pki, extra, key):
    """A wrong or unknown key stops with a ConfigError naming `channels.mssante.KEY`."""
    path = write_config(pki.folder, mssante_table(pki, extra))
    with pytest.raises(ConfigError, match=re.escape(f"channels.mssante.{key}")):
        settings_from(path)


def test_malformed_sender_is_refused(pki):
    """The sender must be a mailbox address."""
    body = mssante_table(pki).replace(SENDER, "cabinet-lilas")
    with pytest.raises(ConfigError, match=r"channels\.mssante\.sender"):
        settings_from(write_config(pki.folder, body))


def test_missing_certificate_file_is_refused(pki):
    """A client key file that does not exist stops start-up, naming the key."""
    pki.client_key.unlink()
    with pytest.raises(ConfigError, match=r"channels\.mssante\.client_key"):
        settings_from(write_config(pki.folder, mssante_table(pki)))


def test_key_not_matching_the_certificate_is_refused(pki):
    """A client key of another certificate is refused at start-up, naming client_cert."""
    _, other_key = pki.client_files(pki.ca, "autre")
    other_key.replace(pki.client_key)
    with pytest.raises(ConfigError, match=r"channels\.mssante\.client_cert"):
        settings_from(write_config(pki.folder, mssante_table(pki)))


# --- the channel ---------------------------------------------------------------------


def test_channel_reaches_patients_with_an_address(pki):
    """can_reach follows the address: INS or roster column, none without either."""
    channel = MssanteChannel(settings_for(pki, 587))
    assert isinstance(channel, RecallChannel)
    assert channel.name == "mssante"
    assert channel.can_reach(ins_patient())
    assert channel.can_reach(ins_patient(ins=None, mssante="p@patient.mssante.fr"))
    assert not channel.can_reach(ins_patient(ins=None))


def test_send_without_address_is_permanent_and_names_only_the_id(pki):
    """A patient with no address fails permanently, naming the internal id."""
    with pytest.raises(PermanentChannelError) as info:
        deliver(settings_for(pki, 1), recall_message(ins_patient(ins=None)))
    assert "P042" in str(info.value)
    assert "Durand" not in str(info.value)


@pytest.mark.parametrize("tls", TLS_MODES)
def test_message_arrives_well_formed_at_the_ins_address(pki, tls):
    """The server gets one MIME message from the sender to the INS mailbox, headers set."""
    handler = RecordingHandler()
    with smtp_server(pki, handler, tls=tls) as server:
        deliver(settings_for(pki, server.port, tls))
    (envelope,) = handler.received
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == [INS_ADDRESS]
    letter = received_letter(handler)
    assert letter["To"] == INS_ADDRESS
    assert letter["From"].addresses[0].addr_spec == SENDER
    assert letter["Message-ID"] == "<r12.5c2e@fmt-plugin.invalid>"
    assert letter["Date"] == "Mon, 02 Mar 2026 09:30:00 +0100"
    assert letter["X-MSS-NIL"] == f"fmt-plugin/{__version__}"
    assert letter["X-MSS-MES"] == "FIN"
    plain = letter.get_body(("plain",))
    assert plain is not None
    assert "Vaccination grippe" in plain.get_content()
    assert letter.get_body(("html",)) is not None


def test_message_goes_to_the_roster_address_when_present(pki):
    """The roster's `mssante` column is the envelope recipient and the To header."""
    handler = RecordingHandler()
    who = ins_patient(mssante="paul.durand@patient.mssante.fr")
    with smtp_server(pki, handler) as server:
        deliver(settings_for(pki, server.port), recall_message(who))
    assert handler.received[0].rcpt_tos == ["paul.durand@patient.mssante.fr"]
    assert received_letter(handler)["To"] == "paul.durand@patient.mssante.fr"


def test_configured_template_and_headers_are_used(pki):
    """A custom template builds the address; replies allowed means no X-MSS-MES."""
    handler = RecordingHandler()
    with smtp_server(pki, handler) as server:
        settings = settings_for(
            pki,
            server.port,
            address_template="{ins}@qualif.patient.mssante.fr",
            reply_blocked=False,
            product_reference="cabinet-lilas/2",
        )
        deliver(settings)
    assert handler.received[0].rcpt_tos == [f"{INS}@qualif.patient.mssante.fr"]
    letter = received_letter(handler)
    assert letter["X-MSS-MES"] is None
    assert letter["X-MSS-NIL"] == "cabinet-lilas/2"


def talk_without_certificate(pki: Pki, port: int, tls: str) -> None:
    """Greet and start a transaction as a client that trusts the server but shows no certificate."""
    context = ssl.create_default_context(cafile=pki.ca_file)
    if tls == "implicit":
        client = smtplib.SMTP_SSL(HOST, port, context=context, timeout=5)
    else:
        client = smtplib.SMTP(HOST, port, timeout=5)
    try:
        if tls != "implicit":
            client.starttls(context=context)
        client.ehlo()
        client.mail(SENDER)
    finally:
        client.close()


@pytest.mark.parametrize("tls", TLS_MODES)
def test_server_refuses_a_client_without_certificate(pki, tls):
    """The test server, like an operator's, closes on a client that shows no certificate."""
    handler = RecordingHandler()
    with (
        smtp_server(pki, handler, tls=tls) as server,
        pytest.raises((smtplib.SMTPException, OSError)),
    ):
        talk_without_certificate(pki, server.port, tls)
    assert handler.received == []


@pytest.mark.parametrize("tls", TLS_MODES)
def test_certificate_from_another_ca_is_refused_as_temporary(pki, tls):
    """A client certificate the server's CA did not issue fails temporarily; nothing arrives."""
    cert, key = pki.client_files(trustme.CA(organization_name="Autre IGC"), "intrus")
    handler = RecordingHandler()
    with (
        smtp_server(pki, handler, tls=tls) as server,
        pytest.raises(TemporaryChannelError, match="certificat client"),
    ):
        deliver(settings_for(pki, server.port, tls, client_cert=cert, client_key=key))
    assert handler.received == []


def test_server_certificate_from_an_unknown_ca_is_refused(pki):
    """A server whose certificate the configured CA bundle does not vouch for is refused."""
    stranger_ca = pki.folder / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(stranger_ca)
    handler = RecordingHandler()
    with (
        smtp_server(pki, handler, tls="implicit") as server,
        pytest.raises(TemporaryChannelError, match="certificat du serveur"),
    ):
        deliver(settings_for(pki, server.port, "implicit", ca_file=stranger_ca))
    assert handler.received == []


def test_server_without_starttls_gets_nothing_in_clear(pki):
    """A server that does not offer STARTTLS is a temporary failure; no message is sent."""
    handler = RecordingHandler()
    with (
        smtp_server(pki, handler, tls="plain") as server,
        pytest.raises(TemporaryChannelError, match="STARTTLS"),
    ):
        deliver(settings_for(pki, server.port))
    assert handler.received == []


def test_4xx_answer_is_temporary_with_its_code(pki):
    """451 after the content is a temporary failure carrying the code."""
    handler = RecordingHandler(data_reply="451 4.3.0 Réessayez plus tard")
    with (
        smtp_server(pki, handler) as server,
        pytest.raises(TemporaryChannelError) as info,
    ):
        deliver(settings_for(pki, server.port))
    assert info.value.code == 451


def test_5xx_answer_is_permanent_with_its_code(pki):
    """550 after the content is a permanent failure carrying the code."""
    handler = RecordingHandler(data_reply="550 5.7.1 Message refusé")
    with (
        smtp_server(pki, handler) as server,
        pytest.raises(PermanentChannelError) as info,
    ):
        deliver(settings_for(pki, server.port))
    assert info.value.code == 550


def test_refused_recipient_is_permanent_without_the_address(pki):
    """A 550 to RCPT is permanent; the server's text is kept but the address is masked."""
    handler = RecordingHandler(rcpt_reply=f"550 5.1.1 <{INS_ADDRESS}> BAL fermée")
    with (
        smtp_server(pki, handler, tls="implicit") as server,
        pytest.raises(PermanentChannelError) as info,
    ):
        deliver(settings_for(pki, server.port, "implicit"))
    assert info.value.code == 550
    assert "destinataire refusé" in str(info.value)
    assert "BAL fermée" in str(info.value)
    assert INS not in str(info.value)


def test_temporary_recipient_refusal_hides_the_address_too(pki):
    """A 4xx reply quoting the address is reported without it."""
    handler = RecordingHandler(rcpt_reply=f"452 4.2.2 {INS_ADDRESS} over quota")
    with (
        smtp_server(pki, handler) as server,
        pytest.raises(TemporaryChannelError) as info,
    ):
        deliver(settings_for(pki, server.port))
    assert info.value.code == 452
    assert INS not in str(info.value)


@pytest.mark.parametrize("tls", TLS_MODES)
def test_connection_lost_after_the_content_is_uncertain(pki, tls):
    """A server hanging up after the whole message, before answering, makes it uncertain."""
    handler = RecordingHandler(drop_after_data=True)
    with (
        smtp_server(pki, handler, tls=tls) as server,
        pytest.raises(UncertainDeliveryError) as info,
    ):
        deliver(settings_for(pki, server.port, tls))
    assert info.value.uncertain
    assert not info.value.temporary


def test_refused_connection_is_temporary_naming_the_server(pki):
    """Nobody listening on the port is a temporary failure naming host and port only."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    with pytest.raises(TemporaryChannelError, match=f"{HOST}:{port}") as info:
        deliver(settings_for(pki, port))
    assert INS not in str(info.value)


def test_unreadable_client_certificate_at_send_time_is_temporary(pki, tmp_path):
    """A certificate removed after start-up fails the send temporarily, naming the file."""
    settings = settings_for(pki, 1)
    pki.client_cert.unlink()
    with pytest.raises(TemporaryChannelError, match="certificat client"):
        deliver(settings)


def test_dot_stuffing_doubles_leading_dots_and_ends_the_data():
    """Lines starting with '.' are doubled and the payload ends with CRLF.CRLF."""
    assert dot_stuffed(b".a\r\nb\r\n..c") == b"..a\r\nb\r\n...c\r\n.\r\n"


# --- the built-in adapter ------------------------------------------------------------


def test_builtin_adapter_offers_the_configured_channels_mssante_first(pki):
    """With both tables, `fmt_recall_channels` returns MSSanté then the outbox folder."""
    body = mssante_table(pki) + '[channels.file]\nfolder = "envois"\n'
    config = load_config(write_config(pki.folder, body))
    pm = build_plugin_manager(config, load_entry_points=False)
    channels = [c for batch in pm.hook.fmt_recall_channels() if batch for c in batch]
    assert [c.name for c in channels] == ["mssante", "file"]
    mssante, outbox = channels
    assert isinstance(mssante, MssanteChannel)
    assert mssante.settings.host == "mssante.example.org"
    assert isinstance(outbox, FileChannel)
    assert outbox.folder == pki.folder / "envois"
    # The outbox writes as the practice's MSSanté mailbox when none is set for it.
    assert outbox.sender == SENDER


def test_builtin_adapter_offers_nothing_without_channel_tables(tmp_path):
    """No `[channels.*]` table: no built-in channel, and the adapter still says who it is."""
    pm = build_plugin_manager(
        load_config(write_config(tmp_path, "")), load_entry_points=False
    )
    assert [b for b in pm.hook.fmt_recall_channels() if b] == []
    assert "recall_channels" in {info.name for info in adapter_infos(pm)}


def test_file_channel_settings_default_and_sender(tmp_path):
    """`[channels.file]` alone defaults to `outbox/` beside the config; `sender` is checked."""
    path = write_config(tmp_path, "[channels.file]\n")
    pm = build_plugin_manager(load_config(path), load_entry_points=False)
    (outbox,) = [c for batch in pm.hook.fmt_recall_channels() if batch for c in batch]
    assert isinstance(outbox, FileChannel)
    assert outbox.folder == tmp_path / "outbox"
    bad = write_config(tmp_path, '[channels.file]\nsender = "cabinet"\n')
    with pytest.raises(ConfigError, match=r"channels\.file\.sender"):
        build_plugin_manager(load_config(bad), load_entry_points=False)


def test_bad_channel_setting_stops_start_up_naming_the_key(pki):
    """An invalid `[channels.mssante]` key stops the plugin manager's configuration."""
    body = mssante_table(pki, 'address_template = "{nir}@patient.mssante.fr"\n')
    with pytest.raises(ConfigError, match=r"channels\.mssante\.address_template"):
        build_plugin_manager(
            load_config(write_config(pki.folder, body)), load_entry_points=False
        )


def test_vendor_channels_come_before_the_builtin_ones(tmp_path):
    """The built-in hook is trylast: a vendor's channel is tried first."""

    class SmsChannel:
        name = "sms"

        def can_reach(self, patient):
            return bool(patient.telephone)

        async def send(self, message):
            return None

    class SmsAdapter:
        @hookimpl
        def fmt_recall_channels(self):
            return [SmsChannel()]

    config = load_config(write_config(tmp_path, "[channels.file]\n"))
    pm = build_plugin_manager(
        config, load_entry_points=False, extra_plugins=[("sms", SmsAdapter())]
    )
    channels = [c for batch in pm.hook.fmt_recall_channels() if batch for c in batch]
    assert [c.name for c in channels] == ["sms", "file"]
