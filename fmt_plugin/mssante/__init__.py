"""MSSanté secure messaging: settings, patient addresses, SMTP submission and the recall channel."""

from __future__ import annotations

from fmt_plugin.mssante.address import DEFAULT_ADDRESS_TEMPLATE, patient_address
from fmt_plugin.mssante.channel import MssanteChannel
from fmt_plugin.mssante.settings import MssanteSettings, read_mssante_settings
from fmt_plugin.mssante.transport import MssanteTransport

__all__ = [
    "DEFAULT_ADDRESS_TEMPLATE",
    "MssanteChannel",
    "MssanteSettings",
    "MssanteTransport",
    "patient_address",
    "read_mssante_settings",
]
