"""The installation lock: one holder at a time, named to the process it refuses."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import start_lock_holder

from fmt_plugin.errors import InstallationBusyError
from fmt_plugin.installation_lock import InstallationLock, lock_path_for


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of `tmp_path/fmt.sqlite3` until the test ends."""
    proc = start_lock_holder(tmp_path / "fmt.sqlite3")
    yield proc
    proc.communicate("", timeout=10)


def test_a_second_holder_is_refused_with_the_first_ones_purpose_and_pid(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(InstallationBusyError) as refused:
        InstallationLock.acquire(tmp_path / "fmt.sqlite3", purpose="restore")
    assert refused.value.holder == "serve"
    assert refused.value.pid == holder.pid
    assert "« serve »" in str(refused.value)
    assert f"pid {holder.pid}" in str(refused.value)


def test_the_lock_is_free_again_once_its_holder_has_died(tmp_path: Path) -> None:
    proc = start_lock_holder(tmp_path / "fmt.sqlite3")
    proc.kill()
    proc.communicate(timeout=10)
    with InstallationLock.acquire(tmp_path / "fmt.sqlite3", purpose="serve") as lock:
        assert lock.held


def test_a_released_lock_can_be_taken_again_in_the_same_process(tmp_path: Path) -> None:
    first = InstallationLock.acquire(tmp_path / "fmt.sqlite3", purpose="serve")
    first.release()
    second = InstallationLock.acquire(tmp_path / "fmt.sqlite3", purpose="serve")
    assert second.held
    assert not first.held
    second.release()


def test_two_locks_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    # flock locks belong to open file descriptions: a second open() conflicts, even here.
    with (
        InstallationLock.acquire(tmp_path / "fmt.sqlite3", purpose="serve"),
        pytest.raises(InstallationBusyError),
    ):
        InstallationLock.acquire(tmp_path / "fmt.sqlite3", purpose="keys rotate")


def test_the_lock_file_sits_beside_the_store_and_only_its_owner_reads_it(
    tmp_path: Path,
) -> None:
    with InstallationLock.acquire(tmp_path / "fmt.sqlite3", purpose="serve") as lock:
        assert lock.path == lock_path_for(tmp_path / "fmt.sqlite3")
        assert lock.path.parent == tmp_path
        assert os.stat(lock.path).st_mode & 0o777 == 0o600
