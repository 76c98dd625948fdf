"""Stamps of files and directories, and glob patterns, on a real temporary directory."""

import os

import pytest

from dagmake import files
from dagmake.files import (
    GlobError,
    compile_glob,
    expand_glob,
    glob_may_match_under,
    glob_prefix,
    is_glob,
    stamp,
)

T0 = 1_700_000_000 * 10**9


def make(root, relative, text="x", ns=None):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if ns is not None:
        os.utime(path, ns=(ns, ns))
    return path


def test_stamp_of_a_file_is_mtime_ns_and_size(tmp_path):
    make(tmp_path, "a.csv", "hello", ns=T0 + 123)
    assert stamp(str(tmp_path), "a.csv") == (T0 + 123, 5)


def test_stamp_keeps_nanoseconds(tmp_path):
    make(tmp_path, "a", ns=T0 + 1)
    make(tmp_path, "b", ns=T0 + 2)
    assert stamp(str(tmp_path), "a")[0] < stamp(str(tmp_path), "b")[0]


def test_stamp_with_root_fd_is_the_same(tmp_path):
    make(tmp_path, "d/a.csv", "hello", ns=T0)
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        for path in ("d/a.csv", "d", "missing"):
            assert stamp(str(tmp_path), path, fd) == stamp(str(tmp_path), path)
    finally:
        os.close(fd)


@pytest.mark.parametrize("path", ["missing.csv", "no/such/dir/x", "a.csv/inside-a-file"])
def test_stamp_of_a_missing_path_is_none(tmp_path, path):
    make(tmp_path, "a.csv")
    assert stamp(str(tmp_path), path) is None


def test_stamp_of_an_absolute_path(tmp_path):
    make(tmp_path, "a.csv", "abc", ns=T0)
    assert stamp("/elsewhere", str(tmp_path / "a.csv")) == (T0, 3)


def test_directory_stamp_is_newest_file_inside_and_file_count(tmp_path):
    make(tmp_path, "d/old.csv", ns=T0)
    make(tmp_path, "d/sub/newest.csv", ns=T0 + 5 * 10**9)
    make(tmp_path, "d/sub/deeper/mid.csv", ns=T0 + 10**9)
    os.utime(tmp_path / "d", ns=(T0 + 99 * 10**9, T0 + 99 * 10**9))  # the directory's own time
    assert stamp(str(tmp_path), "d")[:2] == (T0 + 5 * 10**9, 3)


def test_directory_stamp_changes_when_a_file_is_deleted(tmp_path):
    make(tmp_path, "d/a.csv", ns=T0 + 2)
    make(tmp_path, "d/b.csv", ns=T0 + 1)
    before = stamp(str(tmp_path), "d")
    (tmp_path / "d" / "b.csv").unlink()  # not the newest: only the count shows it
    after = stamp(str(tmp_path), "d")
    assert before[:2] == (T0 + 2, 2)
    assert after[:2] == (T0 + 2, 1)


def test_directory_stamp_changes_when_a_file_inside_is_edited(tmp_path):
    make(tmp_path, "d/a.csv", ns=T0)
    make(tmp_path, "d/x/b.csv", ns=T0)
    before = stamp(str(tmp_path), "d")
    os.utime(tmp_path / "d" / "x" / "b.csv", ns=(T0 + 7, T0 + 7))
    after = stamp(str(tmp_path), "d")
    assert after[:2] == (T0 + 7, 2) and after != before


def test_directory_stamp_changes_when_a_file_inside_is_restored_older(tmp_path):
    # `cp -p` of a backup, an archive unpacked: the newest time and the count stay the same
    make(tmp_path, "d/a.csv", "old", ns=T0)
    make(tmp_path, "d/b.csv", "b", ns=T0 + 10)
    before = stamp(str(tmp_path), "d")
    make(tmp_path, "d/a.csv", "restored", ns=T0 + 5)
    assert stamp(str(tmp_path), "d")[:2] == before[:2]
    assert stamp(str(tmp_path), "d") != before
    # and a file swapped for another one with an older time
    before = stamp(str(tmp_path), "d")
    (tmp_path / "d" / "a.csv").unlink()
    make(tmp_path, "d/c.csv", "restored", ns=T0 + 5)
    assert stamp(str(tmp_path), "d") != before


def test_directory_stamp_is_the_same_wherever_the_project_lies(tmp_path):
    make(tmp_path, "one/d/a.csv", ns=T0)
    make(tmp_path, "two/d/a.csv", ns=T0)
    assert stamp(str(tmp_path / "one"), "d") == stamp(str(tmp_path / "two"), "d")


def test_empty_directory_stamp_is_its_own_time(tmp_path):
    (tmp_path / "empty").mkdir()
    os.utime(tmp_path / "empty", ns=(T0, T0))
    assert stamp(str(tmp_path), "empty")[:2] == (T0, 0)


def test_directory_stamp_skips_dagmake_and_git(tmp_path):
    make(tmp_path, "d/a.csv", ns=T0)
    make(tmp_path, "d/.dagmake/state", ns=T0 + 10**9)
    make(tmp_path, "d/.git/index", ns=T0 + 10**9)
    assert stamp(str(tmp_path), "d")[:2] == (T0, 1)


def test_symlink_is_followed(tmp_path):
    make(tmp_path, "real.csv", "12345", ns=T0)
    (tmp_path / "link.csv").symlink_to("real.csv")
    assert stamp(str(tmp_path), "link.csv") == (T0, 5)
    make(tmp_path, "real_dir/a.csv", ns=T0 + 3)
    (tmp_path / "link_dir").symlink_to("real_dir")
    assert stamp(str(tmp_path), "link_dir") == stamp(str(tmp_path), "real_dir")
    assert stamp(str(tmp_path), "link_dir")[:2] == (T0 + 3, 1)


def test_dangling_symlink_is_missing(tmp_path):
    (tmp_path / "link.csv").symlink_to("nowhere.csv")
    assert stamp(str(tmp_path), "link.csv") is None


# --- globs ---------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    for relative in [
        "data/a.csv",
        "data/b.csv",
        "data/c.tsv",
        "data/ab.csv",
        "data/.hidden.csv",
        "data/raw/x.csv",
        "data/raw/2024/y.csv",
        "data/.secret/z.csv",
        "data/.dagmake/s.csv",
        ".dagmake/state.csv",
        "top.csv",
    ]:
        make(tmp_path, relative)
    return str(tmp_path)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("data/*.csv", ["data/a.csv", "data/ab.csv", "data/b.csv"]),
        ("data/?.csv", ["data/a.csv", "data/b.csv"]),
        ("data/[ab].csv", ["data/a.csv", "data/b.csv"]),
        ("data/[!a].csv", ["data/b.csv"]),
        ("data/*", ["data/a.csv", "data/ab.csv", "data/b.csv", "data/c.tsv"]),
        (
            "data/**/*.csv",
            ["data/a.csv", "data/ab.csv", "data/b.csv", "data/raw/2024/y.csv", "data/raw/x.csv"],
        ),
        ("**/y.csv", ["data/raw/2024/y.csv"]),
        ("data/raw/**", ["data/raw/2024/y.csv", "data/raw/x.csv"]),
        ("*/raw/*.csv", ["data/raw/x.csv"]),
        ("*.csv", ["top.csv"]),
        ("data/*.parquet", []),
        ("data/.hidden*", ["data/.hidden.csv"]),  # an explicit dot matches dotfiles
    ],
)
def test_expand_glob(tree, pattern, expected):
    assert expand_glob(tree, pattern) == expected


def test_expand_glob_skips_dagmake_and_dot_directories(tree):
    assert expand_glob(tree, "**/*.csv") == [
        "data/a.csv",
        "data/ab.csv",
        "data/b.csv",
        "data/raw/2024/y.csv",
        "data/raw/x.csv",
        "top.csv",
    ]


def test_expand_glob_of_a_missing_directory_is_empty(tmp_path):
    assert expand_glob(str(tmp_path), "nowhere/*.csv") == []


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("*.csv", ["a.csv", "b.c.csv"], ["a/b.csv", "a.csvx", "xa.csv/", ".a.csv"]),
        ("data/*.csv", ["data/a.csv"], ["data/a/b.csv", "xdata/a.csv", "data/a.csv.bak"]),
        ("data/**/*.csv", ["data/a.csv", "data/x/y/z.csv"], ["data/.x/a.csv", "other/a.csv"]),
        ("a?c", ["abc"], ["ac", "abbc", "a/c"]),
        ("[ab]", ["a", "b"], ["c", "ab"]),
        ("a.b", ["a.b"], ["axb"]),  # a dot is literal
        ("a+b(c)", ["a+b(c)"], ["aab(c)"]),  # regex characters are literal
        # bracket expressions as sh reads them
        ("[!a]*.txt", ["b1.txt"], ["a1.txt", ".b.txt"]),
        ("s[0-9].txt", ["s5.txt"], ["sa.txt", "s55.txt"]),
        ("[]a]", ["]", "a"], ["b"]),  # a `]` first in the brackets is a member
        ("[a-]x", ["ax", "-x"], ["bx"]),
        ("[[]x", ["[x"], ["x"]),
        ("x[&&]", ["x&"], ["x"]),  # no regex set operations
        ("[!].txt", ["[!].txt"], ["a.txt"]),  # no closing bracket: literal, as in sh
        ("d[!x]/f", ["dy/f"], ["dx/f"]),
        ("d[!x]f", ["dyf"], ["d/f"]),  # a negated class stays inside its directory
    ],
)
def test_compile_glob_matches_whole_paths(pattern, matches, misses):
    regex = compile_glob(pattern)
    for path in matches:
        assert regex.match(path), (pattern, path)
    for path in misses:
        assert not regex.match(path), (pattern, path)


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        ("data/raw/*.csv", "data/raw"),
        ("data/*/x.csv", "data"),
        ("*.csv", ""),
        ("**/x", ""),
        ("a/b/c", "a/b"),
    ],
)
def test_glob_prefix(pattern, prefix):
    assert glob_prefix(pattern) == prefix


@pytest.mark.parametrize(
    ("path", "expected"),
    [("a/*.csv", True), ("a?", True), ("[ab]", True), ("data/raw.csv", False), ("", False)],
)
def test_is_glob(path, expected):
    assert is_glob(path) is expected


def test_is_inside(tmp_path):
    root = str(tmp_path)
    real = os.path.realpath(root)
    make(tmp_path, "data/a.csv")
    (tmp_path / "escape").symlink_to("/")
    assert files.is_inside(real, root, "data/a.csv")
    assert files.is_inside(real, root, "data")
    assert not files.is_inside(real, root, ".")
    assert not files.is_inside(real, root, "../x")
    assert not files.is_inside(real, root, "/etc/passwd")
    assert not files.is_inside(real, root, "escape/etc")


@pytest.mark.parametrize(
    "directory, pattern, may",
    [
        ("parts", "**/*.csv", True),
        ("parts", "parts/*.csv", True),
        ("parts", "parts/**", True),
        ("a", "a/b/*.csv", True),
        ("a/b", "a/**/x.csv", True),
        ("x", "*/*.csv", True),
        ("parts", "*.csv", False),  # top-level files only
        ("parts", "data/*.csv", False),
        ("a/b/c", "a/*/*.csv", False),  # files at depth 3, not under a/b/c
    ],
)
def test_a_glob_may_match_under_a_directory_only_where_its_parts_reach(directory, pattern, may):
    assert glob_may_match_under(directory, pattern) is may


@pytest.mark.parametrize("pattern", ["[z-a].txt", "data/x[9-0]", "x[a--b]"])
def test_a_backwards_character_range_is_a_glob_error(pattern):
    with pytest.raises(GlobError, match="backwards"):
        compile_glob(pattern)


def test_replace_file_leaves_the_old_file_and_no_temporary_one_when_the_disk_is_full(
    tmp_path, monkeypatch
):
    from dagmake.files import replace_file
    from fakes import full_disk

    target = tmp_path / "cache"
    replace_file(str(target), b"old")
    full_disk(monkeypatch)
    with pytest.raises(OSError):
        replace_file(str(target), b"new", sync=True)
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["cache"]
    replace_file(str(target), b"new", sync=True)
    assert target.read_bytes() == b"new"
