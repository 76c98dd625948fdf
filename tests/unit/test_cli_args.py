"""Command-line parsing: every option, clustered short flags, targets and VAR=value overrides."""

import pytest

from dagmake.cli import parse_args
from dagmake.errors import UsageError

DEFAULTS = {
    "targets": [],
    "overrides": {},
    "force": [],
    "file": None,
    "directory": None,
    "jobs": None,
    "retries": None,
    "debounce": None,
    "graph": None,
    "keep_going": False,
    "dry_run": False,
    "force_all": False,
    "watch": False,
    "poll": False,
    "list": False,
    "clean": False,
    "wait": False,
    "quiet": False,
    "verbose": False,
    "version": False,
    "help": False,
}


def parsed(argv):
    options = parse_args(argv)
    return {name: getattr(options, name) for name in DEFAULTS}


# (argv, the options that differ from DEFAULTS)
CASES = [
    ([], {}),
    (["-f", "p/Pipefile.toml"], {"file": "p/Pipefile.toml"}),
    (["--file", "x.toml"], {"file": "x.toml"}),
    (["--file=x.toml"], {"file": "x.toml"}),
    (["-fx.toml"], {"file": "x.toml"}),
    (["-C", "sub"], {"directory": "sub"}),
    (["--directory", "sub"], {"directory": "sub"}),
    (["-C", "a", "-C", "b"], {"directory": "a/b"}),  # each from the one before, as in make
    (["-C", "a", "--directory=/abs"], {"directory": "/abs"}),
    (["-j", "4"], {"jobs": 4}),
    (["-j4"], {"jobs": 4}),
    (["--jobs", "8"], {"jobs": 8}),
    (["--jobs=2"], {"jobs": 2}),
    (["-k"], {"keep_going": True}),
    (["--keep-going"], {"keep_going": True}),
    (["-n"], {"dry_run": True}),
    (["--dry-run"], {"dry_run": True}),
    (["-kn"], {"keep_going": True, "dry_run": True}),
    (["-nkqv"], {"keep_going": True, "dry_run": True, "quiet": True, "verbose": True}),
    (["-kj4"], {"keep_going": True, "jobs": 4}),
    (["-knj", "3"], {"keep_going": True, "dry_run": True, "jobs": 3}),
    (["--force", "a"], {"force": ["a"]}),
    (["--force", "a", "--force=clean_*"], {"force": ["a", "clean_*"]}),
    (["-B"], {"force_all": True}),
    (["--force-all"], {"force_all": True}),
    (["--retries", "3"], {"retries": 3}),
    (["--retries=0"], {"retries": 0}),
    (["-w"], {"watch": True}),
    (["--watch", "--debounce", "0.5", "--poll"], {"watch": True, "debounce": 0.5, "poll": True}),
    (["-l"], {"list": True}),
    (["--list"], {"list": True}),
    (["--graph"], {"graph": "dot"}),
    (["--graph", "mermaid"], {"graph": "mermaid"}),
    (["--graph", "dot"], {"graph": "dot"}),
    (["--graph=mermaid"], {"graph": "mermaid"}),
    (["--graph", "join_data"], {"graph": "dot", "targets": ["join_data"]}),
    (["join_data", "--graph"], {"graph": "dot", "targets": ["join_data"]}),
    (["--clean"], {"clean": True}),
    (["--clean", "a", "b"], {"clean": True, "targets": ["a", "b"]}),
    (["--wait"], {"wait": True}),
    (["-q"], {"quiet": True}),
    (["--quiet"], {"quiet": True}),
    (["-v"], {"verbose": True}),
    (["--verbose"], {"verbose": True}),
    (["--version"], {"version": True}),
    (["-h"], {"help": True}),
    (["--help"], {"help": True}),
    (["a", "clean_*", "data/out.csv"], {"targets": ["a", "clean_*", "data/out.csv"]}),
    (["RAW=data/raw"], {"overrides": {"RAW": "data/raw"}}),
    (["RAW=a", "join", "RAW=b", "N="], {"overrides": {"RAW": "b", "N": ""}, "targets": ["join"]}),
    (["data/x=1.csv"], {"targets": ["data/x=1.csv"]}),  # not a NAME: a target
    (["--", "-odd-target", "A=b"], {"targets": ["-odd-target", "A=b"]}),
    (["-"], {"targets": ["-"]}),
]


@pytest.mark.parametrize(("argv", "changes"), CASES, ids=[" ".join(c[0]) or "none" for c in CASES])
def test_parse_args(argv, changes):
    assert parsed(argv) == {**DEFAULTS, **changes}


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--keep-goin"], ["unknown option '--keep-goin'", "did you mean '--keep-going'?"]),
        (["--dryrun"], ["unknown option '--dryrun'", "did you mean '--dry-run'?"]),
        (["--zzzzzz"], ["unknown option '--zzzzzz'"]),
        (["-x"], ["unknown option '-x'"]),
        (["-kx"], ["unknown option '-x'"]),
        (["-j", "0"], ["--jobs needs a whole number of at least 1, not '0'"]),
        (["-jx"], ["--jobs needs a whole number of at least 1, not 'x'"]),
        (["-j", "2.5"], ["--jobs needs a whole number"]),
        (["--jobs=-1"], ["--jobs needs a whole number of at least 1, not '-1'"]),
        (["-j"], ["option '-j' needs a value"]),
        (["--force"], ["option '--force' needs a value"]),
        (["--retries", "-1"], ["--retries needs a whole number of at least 0"]),
        (["--debounce", "soon"], ["--debounce needs a finite number of at least 0, not 'soon'"]),
        (["--graph=svg"], ["option '--graph' takes one of: dot, mermaid; not 'svg'"]),
        (["--keep-going=yes"], ["option '--keep-going' takes no value"]),
    ],
)
def test_usage_errors(argv, fragments):
    with pytest.raises(UsageError) as caught:
        parse_args(argv)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert caught.value.exit_code == 2


def test_unknown_option_without_close_match_has_no_suggestion():
    with pytest.raises(UsageError) as caught:
        parse_args(["--zzzzzz"])
    assert "did you mean" not in str(caught.value)
    assert "dagmake --help" in str(caught.value)


def test_parse_args_does_not_change_its_argument():
    argv = ["-kj4", "a"]
    parse_args(argv)
    assert argv == ["-kj4", "a"]


def test_graph_with_an_image_format_says_how_to_render_one():
    with pytest.raises(UsageError) as raised:
        parse_args(["--graph", "svg"])
    assert "takes one of: dot, mermaid; not 'svg'" in str(raised.value)
    assert "dot -Tsvg" in str(raised.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "abc"])
def test_debounce_must_be_a_finite_number_of_seconds(value):
    with pytest.raises(UsageError, match="--debounce needs a finite number of at least 0"):
        parse_args(["-w", "--debounce", value])


@pytest.mark.parametrize("flags", [["--debounce", "0.5"], ["--poll"]])
def test_watch_options_without_watch_are_a_usage_error(flags, tmp_path, capsys):
    from dagmake.cli import main

    (tmp_path / "Pipefile.toml").write_text('[tasks.a]\ncmd = "true"\n')
    assert main(["-f", str(tmp_path / "Pipefile.toml"), *flags]) == 2
    assert "goes with -w/--watch" in capsys.readouterr().err
