"""{{name}} expansion, shell quoting, and NAME=value overrides."""

import shlex
import subprocess

import pytest

from dagmake.errors import PipefileError
from dagmake.placeholders import expand, names_in, parse_override, quote, quote_all


def fill(text, values):
    return expand(text, values, task="t", field="cmd", file="Pipefile.toml")


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("no placeholders", {}, "no placeholders"),
        ("{{raw}}/users.csv", {"raw": "data/raw"}, "data/raw/users.csv"),
        ("{{ raw }}/x", {"raw": "data"}, "data/x"),
        ("{{a}}{{b}}", {"a": "1", "b": "2"}, "12"),
        ("echo {{task}} > {{outputs}}", {"task": "t", "outputs": "o.txt"}, "echo t > o.txt"),
        ("{{a}} and {{a}}", {"a": "x"}, "x and x"),
        ("a single { brace }", {}, "a single { brace }"),
    ],
)
def test_expand_replaces_every_placeholder(text, values, expected):
    assert fill(text, values) == expected


def test_expand_does_not_expand_the_values_it_inserts():
    assert fill("{{a}}", {"a": "{{b}}", "b": "no"}) == "{{b}}"


def test_unknown_placeholder_names_task_field_and_a_close_match():
    with pytest.raises(PipefileError) as caught:
        expand("cp {{inptus}} x", {"inputs": "a"}, task="copy", field="cmd", file="Pipefile.toml")
    message = str(caught.value)
    assert "task 'copy'" in message
    assert "'cmd'" in message
    assert "{{inptus}}" in message
    assert "did you mean 'inputs'?" in message
    assert caught.value.task == "copy"
    assert caught.value.key == "cmd"
    assert message.startswith("Pipefile.toml: ")


def test_unknown_placeholder_without_close_match_lists_the_known_ones():
    with pytest.raises(PipefileError) as caught:
        fill("{{zzz}}", {"raw": "r"})
    assert "did you mean" not in str(caught.value)
    assert "known here: raw" in str(caught.value)


def test_unclosed_placeholder_is_an_error():
    with pytest.raises(PipefileError, match="unclosed placeholder") as caught:
        fill("echo {{raw", {"raw": "r"})
    assert caught.value.task == "t"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("data/raw/users.csv", "data/raw/users.csv"),
        ("a-b_c.d@e%f+g=h:i,j", "a-b_c.d@e%f+g=h:i,j"),
        ("with space.csv", "'with space.csv'"),
        ("it's", "'it'\"'\"'s'"),
        ('say "hi"', "'say \"hi\"'"),
        ("", "''"),
        ("$HOME", "'$HOME'"),
        ("a*b", "'a*b'"),
        ("données.csv", "'données.csv'"),
    ],
)
def test_quote(word, expected):
    assert quote(word) == expected
    assert shlex.split(quote(word)) == [word]


@pytest.mark.parametrize("word", ["with space", "it's", 'q"uote', "", "données été.csv", "a;b|c"])
def test_quoted_word_reaches_a_real_shell_unchanged(word):
    printed = subprocess.run(
        ["/bin/sh", "-c", f"printf %s {quote(word)}"], capture_output=True, check=True
    ).stdout
    assert printed.decode() == word


def test_quote_all_joins_quoted_words_with_spaces():
    assert quote_all(["a.csv", "b c.csv", ""]) == "a.csv 'b c.csv' ''"
    assert quote_all([]) == ""


def test_names_in_lists_placeholder_names_in_order():
    assert names_in("{{a}}/{{ b }}/{{a}}/{{unclosed") == ["a", "b", "a"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("RAW=data/raw", ("RAW", "data/raw")),
        ("raw=", ("raw", "")),
        ("_x1=a=b", ("_x1", "a=b")),
        ("NAME=with space", ("NAME", "with space")),
        ("clean_users", None),
        ("data/out.csv", None),
        ("=value", None),
        ("1X=value", ("1X", "value")),  # a var may be named so: it must be overridable
        ("my-var=value", ("my-var", "value")),
        ("-x=value", None),  # an option's spelling
        ("a.b=value", None),
        ("dir/A=value", None),
    ],
)
def test_parse_override(word, expected):
    assert parse_override(word) == expected


def test_quote_all_leaves_glob_patterns_for_the_shell():
    from dagmake.placeholders import quote_all

    assert quote_all(["a b.csv", "parts/*.csv", "x[12].csv"]) == "'a b.csv' parts/*.csv x[12].csv"
    # literal parts the shell would split or expand are quoted, the wildcards are not
    assert quote_all(["my parts/*.csv"]) == "'my parts/'*.csv"
    assert quote_all(["$HOME/?.csv"]) == "'$HOME/'?.csv"
    assert quote_all(["it's/[ab]*"]) == "'it'\"'\"'s/'[ab]*"
    # a class holding `[`, or `]` first, is a class too, as dagmake itself matches it
    assert quote_all(["[[]x].csv", "[]a].csv", "[!]]b"]) == "[[]'x].csv' []a].csv [!]]b"


def test_bracket_classes_expand_in_the_shell_to_the_files_dagmake_matches(tmp_path):
    import subprocess

    from dagmake.files import expand_glob

    for name in ("[x].csv", "a.csv", "]b", "cb"):
        (tmp_path / name).write_text(name)
    patterns = ["[[]x].csv", "[]a].csv", "[!]]b"]
    listed = subprocess.run(
        ["/bin/sh", "-c", f"printf '%s\\n' {quote_all(patterns)}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert listed == ["[x].csv", "a.csv", "cb"]
    assert [m for p in patterns for m in expand_glob(str(tmp_path), p)] == listed


def test_a_quoted_glob_expands_in_the_shell_to_exactly_its_files(tmp_path):
    import subprocess

    (tmp_path / "my data").mkdir()
    for name in ("1.txt", "2.txt", "skip.csv"):
        (tmp_path / "my data" / name).write_text(name)
    (tmp_path / "$HOME").mkdir()
    (tmp_path / "$HOME" / "a.txt").write_text("a")
    words = quote_all(["my data/*.txt", "$HOME/?.txt"])
    listed = subprocess.run(
        ["/bin/sh", "-c", f"printf '%s\\n' {words}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert listed.splitlines() == ["my data/1.txt", "my data/2.txt", "$HOME/a.txt"]


def test_braces_around_what_is_not_a_name_are_kept_as_written():
    values = {"raw": "data/raw"}
    text = "docker inspect -f '{{.Name}} {{ json .Config }}' > {{raw}}/x"
    expanded = expand(text, values, task="a", field="cmd", file="Pipefile.toml")
    assert expanded == "docker inspect -f '{{.Name}} {{ json .Config }}' > data/raw/x"
    assert names_in(text) == ["raw"]


def test_an_unknown_name_is_still_an_error():
    with pytest.raises(PipefileError, match="unknown placeholder"):
        expand("echo {{rwa}}", {"raw": "x"}, task="a", field="cmd", file="Pipefile.toml")


def test_marked_globs_are_the_only_words_left_for_expansion():
    from dagmake.placeholders import GLOB_MARK

    words = ["a b.csv", "parts/**/*.csv", "x.csv"]
    marked = quote_all(words, mark_globs=True)
    assert marked == f"'a b.csv' {GLOB_MARK}parts/**/*.csv{GLOB_MARK} x.csv"


def test_the_shell_form_of_a_marked_command_is_the_unmarked_one():
    """What is shown and hashed into the definition: as before globs were expanded."""
    from dagmake.placeholders import shell_form

    words = ["my data/*.csv", "plain.csv", "$HOME/?.csv", "it's/[ab]*"]
    command = f"cat {quote_all(words, mark_globs=True)} > out"
    assert shell_form(command) == f"cat {quote_all(words)} > out"
    assert shell_form("echo plain") == "echo plain"


def test_expand_globs_puts_each_globs_files_in_its_place_quoted():
    from dagmake.placeholders import expand_globs

    files = {"a/**/*.csv": ["a/x.csv", "a/b c/y.csv"], "n/*.txt": []}
    command = f"cat {quote_all(['first.csv', 'a/**/*.csv', 'n/*.txt'], mark_globs=True)} > out"
    expanded = expand_globs(command, files.__getitem__)
    # a glob matching nothing is left to the shell, as written
    assert expanded == "cat first.csv a/x.csv 'a/b c/y.csv' n/*.txt > out"
    assert expand_globs("echo plain", files.__getitem__) == "echo plain"
