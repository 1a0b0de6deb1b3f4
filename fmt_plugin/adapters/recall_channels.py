"""The built-in `recall_channels` adapter: the MSSanté and file channels the configuration sets up.

`[channels.mssante]` gives the MSSanté channel, `[channels.file]` the outbox folder; MSSanté
comes first, so with both configured the folder only receives what MSSanté could not carry.
The hook is `trylast`: a vendor's channels (SMS, the EHR's own messaging) are tried first.
"""

from __future__ import annotations

from fmt_plugin import __version__
from fmt_plugin.config import FmtConfig, Section
from fmt_plugin.hooks import hookimpl
from fmt_plugin.model import AdapterInfo, RecallChannel
from fmt_plugin.mssante.address import DEFAULT_ADDRESS_TEMPLATE, is_address
from fmt_plugin.mssante.channel import MssanteChannel
from fmt_plugin.mssante.settings import MssanteSettings, read_mssante_settings
from fmt_plugin.recalls.file_channel import DEFAULT_FILE_SENDER, FileChannel
from fmt_plugin.recalls.letter import Letters

NAME = "recall_channels"
#: The outbox folder when `[channels.file]` names none, relative to the configuration file.
DEFAULT_FOLDER = "outbox"


class RecallChannels:
    """Builds the configured built-in channels once, at `fmt_configure`."""

    def __init__(self) -> None:
        self._channels: list[RecallChannel] = []

    @hookimpl
    def fmt_adapter_info(self) -> AdapterInfo:
        """Name this built-in."""
        return AdapterInfo(
            name=NAME,
            version=__version__,
            description="rappels par MSSanté et dans un dossier de fichiers .eml",
        )

    @hookimpl
    def fmt_configure(self, config: FmtConfig) -> None:
        """Read `[channels.mssante]` and `[channels.file]`; either may be absent."""
        channels: list[RecallChannel] = []
        mssante: MssanteSettings | None = None
        # One set of templates for both: the practice's letter reads the same either way.
        letters = Letters.from_config(config)
        section = config.channel_section("mssante")
        if section is not None:
            mssante = read_mssante_settings(section)
            channels.append(MssanteChannel(mssante, letters=letters))
        section = config.channel_section("file")
        if section is not None:
            channels.append(_file_channel(section, mssante, letters))
        self._channels = channels

    @hookimpl(trylast=True)
    def fmt_recall_channels(self) -> list[RecallChannel] | None:
        """The configured channels, MSSanté first; an empty list when none is configured."""
        return list(self._channels)


def _file_channel(
    section: Section, mssante: MssanteSettings | None, letters: Letters
) -> FileChannel:
    """The file channel of `[channels.file]` (`folder`, `sender`); calls `finish()`."""
    folder = section.path("folder", DEFAULT_FOLDER)
    sender = section.optional_string("sender")
    section.finish()
    if sender is not None and not is_address(sender.strip()):
        raise section.error("sender", "adresse invalide", "nom@domaine.fr")
    if folder.exists() and not folder.is_dir():
        raise section.error("folder", f"{folder} n'est pas un dossier", "un dossier")
    # Letters in the folder look like MSSanté's when MSSanté is configured too.
    default_sender = mssante.sender if mssante else DEFAULT_FILE_SENDER
    template = mssante.address_template if mssante else DEFAULT_ADDRESS_TEMPLATE
    return FileChannel(
        folder,
        sender.strip() if sender else default_sender,
        address_template=template,
        letters=letters,
    )
