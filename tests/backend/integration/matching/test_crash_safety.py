"""Crash safety: a process killed with SIGKILL in the middle of adds leaves a valid index, nothing half-added."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tracemark.matching import MatchIndex
from tracemark.matching.evaluation import jpeg_bytes, synthetic_scene
from tracemark.matching.features import unpack

_WRITER = textwrap.dedent(
    """
    import sys
    from tracemark.matching import MatchIndex
    from tracemark.matching.evaluation import jpeg_bytes, synthetic_scene

    folder = sys.argv[1]
    images = [jpeg_bytes(synthetic_scene(i)) for i in range(8)]
    index = MatchIndex.open(folder)
    print("ready", flush=True)
    n = 0
    while True:  # adds and replaces until killed
        index.add(f"ref{n % 12}", images[n % 8])
        n += 1
    """
)


@pytest.mark.integration
@pytest.mark.parametrize("delay", [0.3, 0.9, 1.7])
def test_sigkill_during_adds_leaves_a_valid_index(tmp_path: Path, delay: float) -> None:
    folder = tmp_path / "ix"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    db = sqlite3.connect(folder / "index.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = [r[0] for r in db.execute("SELECT id FROM refs")]
    db.close()
    assert len(ids) == len(set(ids)) and len(ids) >= 1

    with MatchIndex.open(folder) as index:
        refs = index.list()
        assert sorted(r.id for r in refs) == sorted(ids)
        for slot in index._retrieval.slots:
            stored = index._store.load(slot)
            assert stored is not None
            assert len(unpack(stored.fingerprint.features)) > 8
            thumb = cv2.imdecode(np.frombuffer(stored.fingerprint.thumbnail, np.uint8), cv2.IMREAD_GRAYSCALE)
            assert thumb is not None and thumb.size > 0
        # The index still works: an add after the crash, and a search.
        index.add("after-crash", jpeg_bytes(synthetic_scene(99)))
        assert [m.id for m in index.search(jpeg_bytes(synthetic_scene(99)))] == ["after-crash"]
