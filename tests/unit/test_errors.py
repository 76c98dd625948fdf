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
