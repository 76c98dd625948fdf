"""Suggestions for a misspelt name."""

import pytest

from dagmake.errors import did_you_mean


@pytest.mark.parametrize(
    ("word", "choices", "suggestion"),
    [
        ("inputz", ["inputs", "outputs"], ", did you mean 'inputs'?"),
        ("EXTRACT", ["extract", "b"], ", did you mean 'extract'?"),  # another case
        ("B", ["extract", "b"], ", did you mean 'b'?"),  # too short for a spelling match
        ("Clean_User", ["clean_users", "x"], ", did you mean 'clean_users'?"),
        ("zzz", ["inputs"], ""),
    ],
)
def test_did_you_mean(word, choices, suggestion):
    assert did_you_mean(word, choices) == suggestion


def test_an_error_naming_a_path_with_control_characters_shows_them_escaped():
    from dagmake.errors import PipefileError, printable

    error = PipefileError(
        "input 'in\x1bQ\nY.txt' does not exist", file="Pipefile.toml", line=3, hint="fix \x07it"
    )
    assert str(error) == (
        "Pipefile.toml:3: input 'in\\x1bQ\\nY.txt' does not exist\n  hint: fix \\x07it"
    )
    # a byte that is not UTF-8 (os.fsdecode gives a surrogate) reads as that byte
    assert printable("bad\udcff.txt") == "bad\\xff.txt"
    assert printable("été ok") == "été ok"
