"""The exit code survives output that cannot be written at the very end of a run."""

from __future__ import annotations

import os
import sys

import pytest

from dagmake.cli import main


class _GoneAtTheEnd:
    """stdout whose reader leaves before the last line (`dagmake --timings | head -3`)."""

    def __init__(self, last_words: str, fd: int) -> None:
        self.last_words = last_words
        self.fd = fd  # what dagmake points the stream at, once its reader is gone
        self.lost = False
        self.text = ""

    def write(self, text: str) -> int:
        if self.last_words in text:
            self.lost = True
        if self.lost:
            raise BrokenPipeError(32, "Broken pipe")
        self.text += text
        return len(text)

    def flush(self) -> None:
        if self.lost:
            raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.fd


@pytest.mark.parametrize("flag", ["--timings", "--trace"])
def test_a_failed_build_exits_1_when_its_last_line_cannot_be_written(tmp_path, monkeypatch, flag):
    (tmp_path / "Pipefile.toml").write_text('[tasks.bad]\ncmd = "echo no; false"\n')
    monkeypatch.chdir(tmp_path)
    fd = os.open(os.devnull, os.O_WRONLY)
    stdout = _GoneAtTheEnd("written to", fd)
    monkeypatch.setattr(sys, "stdout", stdout)
    argv = [flag] if flag == "--timings" else [flag, str(tmp_path / "t.json")]
    try:
        assert main(argv) == 1
    finally:
        os.close(fd)
    assert stdout.lost  # the report's line was the one lost
    assert "first failure: bad" in stdout.text
