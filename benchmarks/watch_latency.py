"""Measure `dagmake --watch` latency: from an input edit to the start of the task it triggers."""

import argparse
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PIPEFILE = """\
[tasks.stamp]
cmd = "{stamp} >> out/stamps.txt"
inputs = ["src/in.txt"]
outputs = ["out/stamps.txt"]
"""


def stamp_command():
    """A command printing time.time_ns(); `date` starts far faster than python, so it adds less."""
    probe = subprocess.run(["date", "+%s%N"], stdout=subprocess.PIPE, text=True)
    if probe.returncode == 0 and probe.stdout.strip().isdigit():
        return "date +%s%N"
    return "python3 -c 'import time; print(time.time_ns())'"


def read_stamps(path):
    try:
        with open(path) as f:
            return [int(line) for line in f if line.strip().isdigit()]
    except FileNotFoundError:
        return []


def wait_for(predicate, timeout, poll=0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()


def edit(path, text, atomic):
    if atomic:  # how many editors save: write a temporary file, then rename it over the original
        tmp = path + ".tmp~"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    else:
        with open(path, "w") as f:
            f.write(text)


def pump(stream, lines, ready):
    for line in stream:
        lines.put(line)
        if "watching" in line:
            ready.set()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--dagmake",
        default=shutil.which("dagmake"),
        help="dagmake in its virtualenv's bin (default: on PATH)",
    )
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument(
        "--gap",
        type=float,
        default=0.5,
        help="seconds between edits, so each rebuild finishes and the watcher is idle again",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each reaction"
    )
    parser.add_argument(
        "--atomic", action="store_true", help="save by write-temporary-then-rename, like editors"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    if not args.dagmake:
        parser.error("dagmake not found on PATH; pass --dagmake")

    project = tempfile.mkdtemp(prefix="dagmake-watch-")
    os.makedirs(os.path.join(project, "src"))
    os.makedirs(os.path.join(project, "out"))
    source = os.path.join(project, "src", "in.txt")
    stamps = os.path.join(project, "out", "stamps.txt")
    with open(source, "w") as f:
        f.write("initial\n")
    with open(os.path.join(project, "Pipefile.toml"), "w") as f:
        f.write(PIPEFILE.format(stamp=stamp_command()))

    proc = subprocess.Popen(
        [args.dagmake, "--watch"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines, ready = queue.Queue(), threading.Event()
    threading.Thread(target=pump, args=(proc.stdout, lines, ready), daemon=True).start()

    latencies, missed, extra = [], 0, 0
    try:
        wait_for(lambda: ready.is_set() or proc.poll() is not None, 30, poll=0.01)
        if not ready.is_set() or not wait_for(lambda: read_stamps(stamps), args.timeout):
            time.sleep(0.1)  # let the reader thread collect the last lines of output
            tail = "".join(list(lines.queue)[-20:])
            print(
                f"dagmake --watch did not print 'watching' and build once "
                f"(exit code {proc.poll()}):\n{tail}",
                file=sys.stderr,
            )
            return 1
        time.sleep(args.gap)
        for i in range(args.edits):
            before = len(read_stamps(stamps))
            start = time.time_ns()
            edit(source, f"edit {i}\n", args.atomic)
            if not wait_for(lambda n=before: len(read_stamps(stamps)) > n, args.timeout):
                missed += 1
                continue
            latencies.append((read_stamps(stamps)[before] - start) / 1e6)
            time.sleep(args.gap)  # let the rebuild finish; extra runs of one edit would show up now
            extra += len(read_stamps(stamps)) - before - 1
            print(
                f"  edit {i + 1}/{args.edits}: {latencies[-1]:.1f} ms", file=sys.stderr, flush=True
            )
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if not args.keep:
            shutil.rmtree(project, ignore_errors=True)

    output = []
    while not lines.empty():
        output.append(lines.get())
    print(
        f"dagmake --watch latency, edit -> task start "
        f"({'atomic' if args.atomic else 'in-place'} saves, "
        f"{len(latencies)}/{args.edits} edits seen):"
    )
    if latencies:
        ordered = sorted(latencies)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        print(
            f"  median {statistics.median(latencies):.1f} ms, min {ordered[0]:.1f} ms, "
            f"p90 {p90:.1f} ms, max {ordered[-1]:.1f} ms"
        )
    if missed or extra:
        print(f"  INVALID: {missed} edits never triggered the task, {extra} extra runs")
    print(f"  exit code after Ctrl-C: {proc.returncode} (expected 0)")
    if proc.returncode != 0:
        sys.stdout.write("".join(output[-20:]))
    return 0 if latencies and not missed and not extra and proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
