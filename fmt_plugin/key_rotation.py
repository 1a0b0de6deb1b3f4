"""Rotating the store's data key: a new primary key, the values re-encrypted, the old key retired.

The steps, each audited, each safe to interrupt:

1. `keys rotate` adds a new data key to the key file and makes it the primary one; every
   value written from then on (by a process that loaded the new file) is under it.
2. The values under the older keys are re-encrypted slice by slice, one transaction each:
   by `keys rotate` itself when the service is stopped, or in the background by `serve`
   (`KeyRotationWorker`) after it is restarted on the new key file. The progress is the data
   itself (each ciphertext names its key), so a crash or a stop resumes where it was.
3. Once no value is under an older key, and no running service still encrypts with one, the
   older keys are removed from the key file (`keys retire`, or `keys rotate` at the end).

The blind-index and audit keys never rotate: a new index key would make every stored index
(INS lookups, duplicate detection, recall keys) unfindable, a new audit key every MAC of the
chain unverifiable. Their policy is in docs/operations.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from fmt_plugin.config import FmtConfig, load_config
from fmt_plugin.errors import InstallationBusyError, KeyRotationError
from fmt_plugin.installation import audit_anchor
from fmt_plugin.installation_lock import InstallationLock, holder_info
from fmt_plugin.key_passphrase import current_passphrase, unlock_keyring
from fmt_plugin.storage import Store
from fmt_plugin.storage.keys import retire_data_keys

log = logging.getLogger(__name__)
T = TypeVar("T")

ROTATE_ACTION = "keys.rotate"
RETIRE_ACTION = "keys.retire"
PASSPHRASE_ACTION = "keys.passphrase"  # noqa: S105 - an audit action code
SERVICE_ACTOR = "service:keys"
#: Pause between two slices in the service: the listener's commits get the store in between.
SLICE_PAUSE_S = 0.05

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Retirement:
    """What `retire_older_keys` did: the keys removed and the one kept."""

    retired: tuple[str, ...]
    kept: str


def reencrypt_all(
    store: Store,
    *,
    slice_rows: int,
    actor: str,
    on_progress: Progress | None = None,
) -> int:
    """Re-encrypt every value under an older key of `store`'s ring, slice by slice.

    `on_progress(done, total)` before the first slice (done 0) and after each one, when
    there is anything to do. Returns how many values were re-encrypted. Interrupted, it
    leaves every value readable; called again, it goes on.
    """
    total = store.key_usage().under_other_keys(store.primary_key_id)
    if total and on_progress is not None:
        on_progress(0, total)
    done = 0
    while slice_done := store.reencrypt_slice(limit=slice_rows, actor=actor):
        done += slice_done
        if on_progress is not None:
            on_progress(done, max(total, done))
    return done


def retire_older_keys(
    config: FmtConfig, store: Store, *, actor: str, lock_held: bool = False
) -> Retirement:
    """Remove every data key but the primary from the key file, audited.

    Refuses (KeyRotationError, nothing changed) while a value is still under an older key,
    or while a running service may still encrypt with one: the service must have been
    restarted on the current key file (its lock says which key it uses). `lock_held`: the
    caller holds the installation's lock already.
    """
    primary = store.primary_key_id
    older = [key_id for key_id in _file_key_ids(config) if key_id != primary]
    if not older:
        return Retirement((), primary)
    guard = (
        contextlib.nullcontext()
        if lock_held
        else _no_service_on_older_key(config, primary)
    )
    with guard:
        usage = store.key_usage()
        left = {key_id: usage.total(key_id) for key_id in older if usage.total(key_id)}
        if left:
            detail = ", ".join(f"{key_id} : {count}" for key_id, count in left.items())
            raise KeyRotationError(
                f"des valeurs sont encore chiffrées sous l'ancienne clé ({detail}) :"
                " retrait impossible avant la fin du ré-chiffrement"
                " (« fmt-plugin keys status » suit l'avancement)"
            )
        retire_data_keys(
            config.store.key_file, passphrase=current_passphrase(config.store)
        )
        store.record_admin_action(
            actor=actor,
            action=RETIRE_ACTION,
            detail=f"retired={','.join(older)} kept={primary}",
        )
    return Retirement(tuple(older), primary)


def _file_key_ids(config: FmtConfig) -> list[str]:
    return sorted(unlock_keyring(config.store).data_keys)


@contextlib.contextmanager
def _no_service_on_older_key(config: FmtConfig, primary: str) -> Iterator[None]:
    """Hold the installation's lock, or check its holder encrypts with `primary`."""
    try:
        lock = InstallationLock.acquire(config.store.path, purpose="keys retire")
    except InstallationBusyError as busy:
        if holder_info(config.store.path).get("primary_key") != primary:
            raise KeyRotationError(
                f"{busy.holder or 'un autre processus'} tourne encore avec l'ancienne clé"
                " primaire (il a été démarré avant la rotation) : redémarrez le service"
                " (systemctl restart fmt-plugin), puis relancez « fmt-plugin keys retire »"
            ) from None
        yield
        return
    with lock:
        yield


class KeyRotationWorker:
    """The service's part that re-encrypts, in the background, what an older key protects.

    It does nothing when every value is under the primary key. Otherwise it re-encrypts a
    slice at a time on its own thread and store connection, pausing between slices so that
    HL7 messages are committed in between, until nothing is left or the service stops.
    """

    def __init__(self, config_path: Path, *, pause_s: float = SLICE_PAUSE_S) -> None:
        self._config_path = config_path
        self._pause_s = pause_s
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="fmt-keys")
        self._store: Store | None = None
        self._slice_rows = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.finished = asyncio.Event()
        #: Values re-encrypted since start.
        self.reencrypted = 0

    async def start(self) -> None:
        """Open the store and, if values are under an older key, start re-encrypting."""
        left = await self._on_thread(self._open)
        if not left:
            self.finished.set()
            return
        log.info(
            "key rotation: %d value(s) to re-encrypt under key %s, in the background",
            left,
            self._primary(),
        )
        self._task = asyncio.create_task(self._loop(), name="fmt-key-rotation")

    async def stop(self) -> None:
        """Finish the slice in progress (the rest waits for the next start), then close."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._store is not None:
            await self._on_thread(self._store.close)
            self._store = None
        self._executor.shutdown(wait=True)

    def _open(self) -> int:
        config = load_config(self._config_path)
        keyring = unlock_keyring(config.store)
        if len(keyring.data_keys) == 1:
            # No older key to re-encrypt from: not even a scan of the store at start-up.
            return 0
        self._slice_rows = config.store.reencrypt_slice_rows
        store = Store.open(config.store.path, keyring, anchor=audit_anchor(config))
        self._store = store
        return store.key_usage().under_other_keys(store.primary_key_id)

    def _primary(self) -> str:
        return self._store.primary_key_id if self._store is not None else "-"

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                done = await self._on_thread(self._slice)
            except Exception as exc:  # noqa: BLE001 - the service goes on; the log says why
                log.error(
                    "key rotation stopped: %s (%s); the next start tries again",
                    exc if isinstance(exc, KeyRotationError) else "",
                    type(exc).__name__,
                )
                return
            if not done:
                log.info(
                    "key rotation: every value is under key %s (%d re-encrypted);"
                    " `fmt-plugin keys retire` removes the older keys",
                    self._primary(),
                    self.reencrypted,
                )
                self.finished.set()
                return
            self.reencrypted += done
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._pause_s)

    def _slice(self) -> int:
        if self._store is None:
            raise RuntimeError("key rotation worker not started")
        return self._store.reencrypt_slice(limit=self._slice_rows, actor=SERVICE_ACTOR)

    async def _on_thread(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, function
        )
