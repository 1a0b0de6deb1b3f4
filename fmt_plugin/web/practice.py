"""The dashboard's own connection to the practice: one thread, one installation.

SQLite connections stay in the thread that opened them, and decrypting a list of patients
must not stall the event loop that also serves HL7. Every page therefore asks for its data
through `PracticeBackend.run`, which runs a function of the installation on that thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from fmt_plugin.installation import Installation, open_installation

T = TypeVar("T")


class PracticeBackend:
    """An installation opened on a thread of its own, used by the dashboard's pages."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="fmt-dashboard")
        self._installation: Installation | None = None

    async def start(self) -> None:
        """Open the installation (on the backend's thread)."""
        self._installation = await self._submit(open_installation, self.config_path)

    async def stop(self) -> None:
        """Close the installation once the work queued before has run."""
        if self._installation is not None:
            await self._submit(self._installation.close)
            self._installation = None
        self._executor.shutdown(wait=True)

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """`function(installation, *args)` on the backend's thread."""
        return await self._submit(self._call, function, *args)

    async def audit(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> None:
        """One audit entry (`record_admin_action`) on the backend's thread."""
        await self.run(
            lambda installation: installation.store.record_admin_action(
                actor=actor, action=action, target=target, detail=detail
            )
        )

    def _call(self, function: Callable[..., T], *args: object) -> T:
        if self._installation is None:
            raise RuntimeError("the dashboard's installation is not open")
        return function(self._installation, *args)

    def _submit(self, function: Callable[..., T], *args: object) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, partial(function, *args))
