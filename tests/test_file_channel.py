"""The `file` channel: each recall written atomically as a private, parseable `.eml` file."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import stat
from pathlib import Path

import pytest
from recall_data import CREATED_AT, INS, recall_message

from fmt_plugin.errors import TemporaryChannelError
from fmt_plugin.model import Patient, RecallChannel
from fmt_plugin.recalls.file_channel import FileChannel
from fmt_plugin.recalls.model import RecallMessage

SENDER = "rappels@cabinet-lilas.mssante.fr"


def channel(folder: Path) -> FileChannel:
    return FileChannel(folder, SENDER, clock=lambda: CREATED_AT)


def send(target: FileChannel, message: RecallMessage) -> None:
    asyncio.run(target.send(message))


def read_eml(path: Path) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def test_file_channel_is_a_recall_channel_reaching_everyone(tmp_path):
    """The file channel honours the RecallChannel protocol and reaches any patient."""
    target = channel(tmp_path / "outbox")
    assert isinstance(target, RecallChannel)
    assert target.name == "file"
    assert target.can_reach(Patient("P1", "test"))


def test_send_writes_a_parseable_eml_named_after_the_recall(tmp_path):
    """One `<recall id>-<short id>.eml` file holds the complete letter."""
    folder = tmp_path / "outbox"
    send(channel(folder), recall_message())
    (path,) = folder.iterdir()
    assert path.name.startswith("12-")
    assert path.suffix == ".eml"
    letter = read_eml(path)
    assert letter["Message-ID"] == "<r12.5c2e@fmt-plugin.invalid>"
    assert letter["From"].addresses[0].addr_spec == SENDER
    assert letter["To"].addresses[0].addr_spec == f"{INS}@patient.mssante.fr"
    assert [p.get_content_type() for p in letter.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert b"\r\n" in path.read_bytes()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_eml_file_is_readable_by_its_owner_only(tmp_path):
    """The file holds patient data: mode 0600."""
    folder = tmp_path / "outbox"
    send(channel(folder), recall_message())
    (path,) = folder.iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_folder_is_created(tmp_path):
    """The outbox folder and its parents are created on first use."""
    folder = tmp_path / "a" / "b" / "outbox"
    send(channel(folder), recall_message())
    assert len(list(folder.glob("*.eml"))) == 1


def test_a_retry_overwrites_the_same_file_and_leaves_no_temporary(tmp_path):
    """Writing the same recall twice gives one file and no leftover temporary file."""
    folder = tmp_path / "outbox"
    target = channel(folder)
    send(target, recall_message())
    send(target, recall_message())
    send(target, recall_message(recall_id=13))
    assert sorted(p.name[:3] for p in folder.iterdir()) == ["12-", "13-"]


def test_patient_without_mssante_address_gets_a_placeholder_recipient(tmp_path):
    """Without a qualified INS nor roster address, To is a non-deliverable placeholder."""
    folder = tmp_path / "outbox"
    send(channel(folder), recall_message(Patient("P077", "test", prenom="Zoé")))
    (path,) = folder.iterdir()
    assert read_eml(path)["To"] == "patient-P077@outbox.invalid"


def test_roster_address_is_the_recipient_when_present(tmp_path):
    """The roster's `mssante` column is written as the recipient."""
    folder = tmp_path / "outbox"
    patient = Patient("P5", "test", ins=INS, mssante="p5@patient.mssante.fr")
    send(channel(folder), recall_message(patient))
    (path,) = folder.iterdir()
    assert read_eml(path)["To"] == "p5@patient.mssante.fr"


def test_unwritable_folder_is_a_temporary_error_without_patient_data(tmp_path):
    """A folder that cannot be created fails temporarily, naming the folder only."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    folder = blocker / "outbox"
    with pytest.raises(TemporaryChannelError) as info:
        send(channel(folder), recall_message())
    message = str(info.value)
    assert info.value.channel == "file"
    assert str(folder) in message
    for secret in (INS, "Durand", "Paul"):
        assert secret not in message
