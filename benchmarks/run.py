"""Benchmark dagmake against make, ninja, doit and go-task: full, no-op, incremental, memory."""

import argparse
import glob
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import generate  # benchmarks/generate.py: the script directory is on sys.path

ALL_TOOLS = ("make", "ninja", "doit", "task", "dagmake")
MEASURES = ("full", "noop", "incremental", "memory")
TITLES = {
    "full": "Full build (clean outputs and state)",
    "noop": "No-op (nothing to do)",
    "incremental": "Incremental (one source edited)",
    "memory": "Peak memory of the no-op (MB, /usr/bin/time -f %M)",
}
PYTHON = "python -c pass"
TIME_BIN = "/usr/bin/time"
INSTALL_HINTS = {
    "make": "apt-get install -y make",
    "ninja": "pip install ninja",
    "doit": "pip install doit",
    "task": "https://taskfile.dev/installation/ (optional)",
    "dagmake": "pip install . into a virtualenv; put its bin on PATH or pass --dagmake",
}


@dataclass
class Tool:
    name: str
    exe: str
    version: str = ""
    state: tuple = ()  # files/globs in the project that a full build deletes besides out/

    def command(self, jobs):
        flags = {
            "make": [f"-j{jobs}"],
            "ninja": [f"-j{jobs}"],
            "doit": ["-n", str(jobs)],
            "task": ["--concurrency", str(jobs)],
            "dagmake": ["-j", str(jobs)],
        }[self.name]
        return [self.exe, *flags]


STATE = {
    "make": (),
    "ninja": (".ninja_log", ".ninja_deps"),
    "doit": (".doit.db*",),
    "task": (".task",),
    "dagmake": (".dagmake",),
}


def first_line(argv):
    try:
        out = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"? ({e})"
    return (out.strip().splitlines() or ["?"])[0]


def shebang(path):
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None, b""
    if not head.startswith(b"#!"):
        return None, head
    return head[2:].split(b"\n", 1)[0].decode(errors="replace").strip(), head


def dagmake_python(exe):
    """The interpreter of dagmake's virtualenv, or None with a reason when `exe` is a shim."""
    line, head = shebang(exe)
    if line is None:
        return None, "not a Python console script"
    interp = line.split()[0]
    marker = head.find(b"'''exec' ")
    if interp == "/bin/sh" and marker >= 0:  # pip's launcher for interpreter paths too long for #!
        interp = head[marker + 9 :].split()[0].decode(errors="replace").strip("'\"")
    if "python" in os.path.basename(interp) and os.path.exists(interp):
        return interp, ""
    if b"pyenv" in head or b"asdf" in head or os.path.basename(interp) in ("sh", "bash", "env"):
        return None, f"looks like a shim ({line}); pass the virtualenv's bin/dagmake with --dagmake"
    return None, f"unexpected interpreter line: #!{line}"


def find_tools(names, dagmake_path):
    tools, python = [], None
    for name in names:
        exe = dagmake_path if (name == "dagmake" and dagmake_path) else shutil.which(name)
        if not exe or not os.access(exe, os.X_OK):
            print(f"skipping {name}: not found ({INSTALL_HINTS[name]})", file=sys.stderr)
            continue
        exe = os.path.abspath(exe)
        if name == "dagmake":
            python, why = dagmake_python(exe)
            if python is None:
                print(f"skipping dagmake: {exe} {why}", file=sys.stderr)
                continue
        tools.append(Tool(name, exe, first_line([exe, "--version"]), STATE[name]))
    if python is None:
        python = sys.executable  # no dagmake: the baseline falls back to this interpreter
    return tools, python


def tool_env():
    env = dict(os.environ)
    env["LC_ALL"] = "C"  # `sort` orders bytes the same way in every tool
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEFILES"):
        env.pop(var, None)
    return env


def timed(argv, cwd, env):
    start = time.perf_counter_ns()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seconds = (time.perf_counter_ns() - start) / 1e9
    return seconds, proc.returncode, proc.stdout.decode(errors="replace")


def peak_mb(argv, cwd, env):
    """Peak RSS of `argv` itself: /usr/bin/time measures a fresh child, not this harness's fork."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        proc = subprocess.run(
            [TIME_BIN, "-f", "%M", "-o", report.name, *argv],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        lines = report.read().strip().splitlines()
    if proc.returncode != 0 or not lines:
        return None
    return int(lines[-1]) / 1024


def snapshot(project, outputs):
    """mtime_ns and content digest of every declared output (None when missing)."""
    snap = {}
    for out in outputs:
        path = os.path.join(project, out)
        try:
            with open(path, "rb") as f:
                digest = hashlib.sha1(f.read()).hexdigest()
            snap[out] = (os.stat(path).st_mtime_ns, digest)
        except FileNotFoundError:
            snap[out] = None
    return snap


def expected_digests(workload, project):
    def read_source(path):
        with open(os.path.join(project, path), "rb") as f:
            return f.read()

    return {
        out: hashlib.sha1(data).hexdigest()
        for out, data in workload.expected_contents(read_source).items()
    }


def content_problems(snap, expected):
    missing = [o for o, s in snap.items() if s is None]
    if missing:
        return [
            f"missing {missing[0]} (+{len(missing) - 1} more)"
            if len(missing) > 1
            else f"missing {missing[0]}"
        ]
    wrong = [o for o, s in snap.items() if s[1] != expected[o]]
    return (
        [f"wrong content in {wrong[0]}" + (f" (+{len(wrong) - 1} more)" if len(wrong) > 1 else "")]
        if wrong
        else []
    )


def clean(tool, project):
    shutil.rmtree(os.path.join(project, "out"), ignore_errors=True)
    os.makedirs(os.path.join(project, "out"))
    for pattern in tool.state:
        for path in glob.glob(os.path.join(project, pattern)):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)


def filesystem_now(project):
    """The time the filesystem stamps on a file written now (coarser than time.time_ns())."""
    probe = os.path.join(project, ".bench-probe")
    with open(probe, "w"):
        pass
    now = os.stat(probe).st_mtime_ns
    os.remove(probe)
    return now


def edit_source(project, source, snap, round_no):
    """Change a source's content and make it strictly newer than every output, without sleeping."""
    path = os.path.join(project, source)
    with open(path, "w") as f:
        f.write(f"{source} edited in round {round_no}\n")
    newest_output = max((s[0] for s in snap.values() if s), default=0)
    # Newer than every output, yet not ahead of the filesystem clock, so the rebuilt outputs
    # end up no older than the edited source.
    mtime = max(filesystem_now(project), newest_output + 1)
    os.utime(path, ns=(mtime, mtime))


@dataclass
class Record:
    samples: dict = field(default_factory=lambda: {m: [] for m in MEASURES})
    problems: dict = field(default_factory=lambda: {m: [] for m in MEASURES})

    def add(self, measure, value, problems, keep):
        self.problems[measure].extend(problems)
        if keep:
            self.samples[measure].append(value if not problems else None)


def fail_text(rc, output):
    tail = output.strip().splitlines()[-1:] or [""]
    return f"exit {rc}: {tail[0][:120]}"


def run_tool_round(tool, project, workload, jobs, env, round_no, record, keep, noop_repeats):
    """One full build, no-ops, memory probe and incremental build of one tool, each checked."""
    outputs = workload.outputs()
    argv = tool.command(jobs)

    clean(tool, project)
    seconds, rc, out = timed(argv, project, env)
    snap = snapshot(project, outputs)
    problems = (
        [fail_text(rc, out)] if rc else content_problems(snap, expected_digests(workload, project))
    )
    record.add("full", seconds, problems, keep)

    # A no-op takes milliseconds: the round's sample is the median of a few, to damp noise.
    times, problems = [], []
    for _ in range(noop_repeats):
        seconds, rc, out = timed(argv, project, env)
        after = snapshot(project, outputs)
        times.append(seconds)
        if rc:
            problems.append(fail_text(rc, out))
        touched = [o for o in outputs if after[o] != snap[o]]
        if touched:
            problems.append(f"no-op rewrote {len(touched)} outputs, e.g. {touched[0]}")
        if problems:
            break
    record.add("noop", statistics.median(times), problems, keep)

    if os.path.exists(TIME_BIN):
        mb = peak_mb(argv, project, env)
        again = snapshot(project, outputs)
        problems = [] if mb is not None else ["/usr/bin/time failed"]
        if again != after:
            problems.append("no-op under /usr/bin/time rewrote outputs")
        record.add("memory", mb, problems, keep)
        after = again

    source = generate.incremental_source(workload)
    edit_source(project, source, after, round_no)
    seconds, rc, out = timed(argv, project, env)
    final = snapshot(project, outputs)
    problems = (
        [fail_text(rc, out)] if rc else content_problems(final, expected_digests(workload, project))
    )
    changed = {
        o for o in outputs if final[o] is None or after[o] is None or final[o][0] != after[o][0]
    }
    expected = workload.downstream(source)
    if changed != expected:
        extra, lacking = sorted(changed - expected), sorted(expected - changed)
        problems.append(
            f"rebuilt {len(changed)} outputs, expected {len(expected)}"
            + (f"; extra {extra[0]}" if extra else "")
            + (f"; not rebuilt {lacking[0]}" if lacking else "")
        )
    record.add("incremental", seconds, problems, keep)


def run_baseline_round(python, env, record, keep, cwd, noop_repeats):
    runs = [timed([python, "-c", "pass"], cwd, env) for _ in range(noop_repeats)]
    problems = [fail_text(rc, out) for _, rc, out in runs if rc]
    record.add("noop", statistics.median(s for s, _, _ in runs), problems[:1], keep)
    if os.path.exists(TIME_BIN):
        mb = peak_mb([python, "-c", "pass"], cwd, env)
        record.add("memory", mb, [] if mb is not None else ["/usr/bin/time failed"], keep)


def bench(kind, size, tools, python, args, workdir):
    root = os.path.join(workdir, f"{kind}-{size}")
    workload = generate.generate(kind, size, root, [t.name for t in tools])
    env = tool_env()
    records = {t.name: Record() for t in tools}
    records[PYTHON] = Record()
    total = args.warmup + args.rounds
    for r in range(total):
        keep = r >= args.warmup
        shift = r % len(tools) if tools else 0
        order = tools[shift:] + tools[:shift]
        label = f"round {r - args.warmup + 1}/{args.rounds}" if keep else "warm-up"
        print(
            f"  {kind} N={size} {label}: {' '.join(t.name for t in order)}",
            file=sys.stderr,
            flush=True,
        )
        for tool in order:
            run_tool_round(
                tool,
                os.path.join(root, tool.name),
                workload,
                args.jobs,
                env,
                r,
                records[tool.name],
                keep,
                args.noop_repeats,
            )
        run_baseline_round(python, env, records[PYTHON], keep, root, args.noop_repeats)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return workload, records


def median_ratio(samples, reference):
    """Median over rounds of sample/reference, using only rounds where both are valid."""
    ratios = [s / ref for s, ref in zip(samples, reference, strict=True) if s is not None and ref]
    return statistics.median(ratios) if ratios else None


def summarize(records, measure, reference, baseline):
    rows = []
    ref = records.get(reference)
    base = records.get(baseline)
    for name, rec in records.items():
        samples = rec.samples[measure]
        if not samples and not rec.problems[measure]:
            continue
        valid = [s for s in samples if s is not None]
        problems = rec.problems[measure]
        row = {
            "tool": name,
            "median": statistics.median(valid) if valid and not problems else None,
            "ratio": None,
            "ratio_python": None,
            "invalid": problems[0] if problems else None,
        }
        for key, other in (("ratio", ref), ("ratio_python", base)):
            if not problems and other and other.samples[measure] and not other.problems[measure]:
                row[key] = median_ratio(samples, other.samples[measure])
        rows.append(row)
    return rows


def fmt(value, digits):
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(kind, size, workload, records, args):
    out = [
        f"## {kind}, N={size} ({len(workload.tasks)} tasks, -j{args.jobs}, {args.rounds} rounds)",
        "",
    ]
    ideal = workload.ideal_seconds(args.jobs)
    if ideal:
        out += [
            f"Ideal full build: {ideal[0]:.2f} s critical-path-first, "
            f"{ideal[1]:.2f} s FIFO in declaration order.",
            "",
        ]
    for measure in MEASURES:
        rows = summarize(records, measure, args.baseline, PYTHON)
        if not rows:
            continue
        unit = "MB" if measure == "memory" else "s"
        with_python = measure in ("noop", "memory")
        head = f"| tool | median {unit} | ratio to {args.baseline} |" + (
            " ratio to python |" if with_python else ""
        )
        out += [
            f"### {TITLES[measure]}",
            "",
            head,
            "|---|---:|---:|" + ("---:|" if with_python else ""),
        ]
        for row in rows:
            if row["invalid"]:
                cells = [row["tool"], f"INVALID: {row['invalid']}", "—"] + (
                    ["—"] if with_python else []
                )
            else:
                cells = [
                    row["tool"],
                    fmt(row["median"], 1 if measure == "memory" else 4),
                    fmt(row["ratio"], 2),
                ]
                if with_python:
                    cells.append(fmt(row["ratio_python"], 2))
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def parse_list(text, allowed=None, kind=str):
    items = [kind(x) for x in text.split(",") if x.strip()]
    if allowed:
        bad = [x for x in items if x not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(
                f"unknown: {', '.join(map(str, bad))} (choose from {', '.join(allowed)})"
            )
    return items


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--workloads",
        type=lambda s: parse_list(s, generate.WORKLOADS),
        default=list(generate.WORKLOADS),
        help="comma-separated (default: all)",
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: parse_list(s, kind=int),
        default=[100, 1000],
        help="task counts for chain/wide/layered (default: 100,1000)",
    )
    parser.add_argument(
        "--skewed-size",
        type=int,
        default=20,
        help="task count of the skewed workload, which sleeps (default: 20 = 16 short + 4 long)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--warmup", type=int, default=1, help="unrecorded rounds first (still checked)"
    )
    parser.add_argument(
        "--noop-repeats",
        type=int,
        default=5,
        help="no-op runs per round; the round's sample is their median (default: 5)",
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tools", type=lambda s: parse_list(s, ALL_TOOLS), default=list(ALL_TOOLS))
    parser.add_argument(
        "--dagmake", help="path to dagmake in its virtualenv's bin (default: dagmake on PATH)"
    )
    parser.add_argument(
        "--baseline", default="make", help="tool the ratios are computed against (default: make)"
    )
    parser.add_argument("--json", help="save raw samples and summaries to this file")
    parser.add_argument(
        "--workdir", help="where projects are generated (default: a new temporary directory)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated projects")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.noop_repeats < 1 or args.jobs < 1:
        parser.error("--rounds, --noop-repeats and --jobs must be at least 1")

    tools, python = find_tools(args.tools, args.dagmake)
    if not tools:
        print("no tools to benchmark", file=sys.stderr)
        return 2
    if args.baseline not in [t.name for t in tools]:
        print(f"no ratios: the baseline {args.baseline} is not benchmarked", file=sys.stderr)
    if not os.path.exists(TIME_BIN):
        print(f"skipping memory: {TIME_BIN} not found (apt-get install -y time)", file=sys.stderr)
    workdir = args.workdir or tempfile.mkdtemp(prefix="dagmake-bench-")
    os.makedirs(workdir, exist_ok=True)

    versions = {t.name: t.version for t in tools}
    versions[PYTHON] = f"{python} ({first_line([python, '--version'])})" + (
        "" if "dagmake" in versions else ", this harness's interpreter since dagmake was not found"
    )
    print(f"# dagmake benchmarks\n\n{platform.platform()}, {os.cpu_count()} CPUs. Tools:\n")
    for name, version in versions.items():
        print(f"- {name}: {version}")
    print(
        f"\nRatios are medians of per-round tool/{args.baseline} ratios; "
        "tools alternate round-robin.\n",
        flush=True,
    )

    results = []
    for kind in args.workloads:
        sizes = [args.skewed_size] if kind == "skewed" else args.sizes
        for size in sizes:
            workload, records = bench(kind, size, tools, python, args, workdir)
            print(markdown(kind, size, workload, records, args), flush=True)
            results.append(
                {
                    "workload": kind,
                    "size": size,
                    "tasks": len(workload.tasks),
                    "samples": {name: rec.samples for name, rec in records.items()},
                    "problems": {name: rec.problems for name, rec in records.items()},
                    "summary": {m: summarize(records, m, args.baseline, PYTHON) for m in MEASURES},
                }
            )
    if args.keep:
        print(f"projects kept in {workdir}", file=sys.stderr)
    elif not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        meta = {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "jobs": args.jobs,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "baseline": args.baseline,
            "versions": versions,
            "tools": {t.name: t.exe for t in tools},
            "python": python,
        }
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
