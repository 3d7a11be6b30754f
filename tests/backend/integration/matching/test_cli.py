"""The `tracemark match` command: the contract of issue 3, JSON shape included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracemark.cli import main
from tracemark.matching.evaluation import jpeg_bytes, synthetic_scene


def _runner() -> CliRunner:
    """A runner that keeps stderr apart (click 8.1 needs asking; 8.2 always does)."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    a = _write(tmp_path / "alpha.jpg", jpeg_bytes(synthetic_scene(1)))
    b = _write(tmp_path / "beta.png", b"")
    synthetic_scene(2).save(b)
    copy = synthetic_scene(1).crop((50, 40, 600, 460))
    q = _write(tmp_path / "copy.jpg", jpeg_bytes(copy, 80))
    other = _write(tmp_path / "other.jpg", jpeg_bytes(synthetic_scene(3)))
    bad = _write(tmp_path / "bad.jpg", b"not an image")
    empty = _write(tmp_path / "empty.jpg", b"")
    return {"a": a, "b": b, "copy": q, "other": other, "bad": bad, "empty": empty}


def test_add_list_search_remove(tmp_path: Path, files: dict[str, Path]) -> None:
    runner = _runner()
    ix = str(tmp_path / "ix")
    r = runner.invoke(main, ["match", "add", "--index", ix, str(files["a"]), str(files["b"])])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["match", "add", "--index", ix, "--id", "custom", str(files["a"])])
    assert r.exit_code == 0
    listing = runner.invoke(main, ["match", "list", "--index", ix]).output
    assert [line.split("\t")[0] for line in listing.splitlines()] == ["alpha", "beta", "custom"]

    r = runner.invoke(
        main, ["match", "search", "--index", ix, "--json", str(files["copy"]), str(files["bad"]), str(files["other"])]
    )
    assert r.exit_code != 0  # one query failed
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["query"] for x in lines] == [str(files["copy"]), str(files["bad"]), str(files["other"])]
    first = lines[0]
    assert set(first) == {"query", "matches"}
    assert {m["id"] for m in first["matches"]} == {"alpha", "custom"}
    m = first["matches"][0]
    assert set(m) >= {"id", "score", "edits"}
    assert set(m["edits"]) >= {
        "crop_box",
        "coverage",
        "scale",
        "rotation_deg",
        "mirrored",
        "greyscale",
        "overlay_fraction",
    }
    assert len(m["edits"]["crop_box"]) == 4 and 0 <= m["score"] <= 1
    assert abs(m["edits"]["coverage"] - (550 * 420) / (640 * 480)) <= 0.05
    assert set(lines[1]) == {"query", "error"} and "not a recognised image" in lines[1]["error"]
    assert lines[2] == {"query": str(files["other"]), "matches": []}

    r = runner.invoke(main, ["match", "remove", "--index", ix, "custom", "nope"])
    assert r.exit_code != 0
    assert "custom" not in runner.invoke(main, ["match", "list", "--index", ix]).output


def test_add_goes_on_after_bad_files(tmp_path: Path, files: dict[str, Path]) -> None:
    r = _runner().invoke(
        main, ["match", "add", "--index", str(tmp_path / "ix"), str(files["empty"]), str(files["bad"]), str(files["a"])]
    )
    assert r.exit_code == 1
    assert "empty file" in r.stderr and "not a recognised image" in r.stderr
    assert "added alpha" in r.stdout


def test_id_needs_one_file(tmp_path: Path, files: dict[str, Path]) -> None:
    r = _runner().invoke(
        main, ["match", "add", "--index", str(tmp_path / "ix"), "--id", "x", str(files["a"]), str(files["b"])]
    )
    assert r.exit_code == 2


def test_search_on_missing_index_is_an_error(tmp_path: Path, files: dict[str, Path]) -> None:
    r = _runner().invoke(main, ["match", "search", "--index", str(tmp_path / "none"), "--json", str(files["a"])])
    assert r.exit_code != 0 and "no match index" in r.stderr
