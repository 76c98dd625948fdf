"""The `dagmake` command: parse arguments, call the Python API, map the result to an exit code."""

from __future__ import annotations

import os
import sys

from .errors import DagmakeError, TargetError, UsageError, printable
from .files import shown as _display
from .sig import sigterm_as_interrupt

USAGE = """\
usage: dagmake [OPTIONS] [TARGET ...] [NAME=value ...]

Build the stale tasks of Pipefile.toml (and what they need), concurrently.
TARGET is a task name, a glob of task names ('clean_*'), or an output path.
NAME=value overrides a [vars] entry for this run.

options:
  -f, --file PATH        use this Pipefile, or the one in directory PATH
                         (default: nearest Pipefile.toml upward)
  -C, --directory DIR    change to DIR first
  -j, --jobs N           run at most N tasks at once (default: settings.jobs, else CPUs)
  -k, --keep-going       after a failure, still run everything that does not depend on it
  -n, --dry-run          print what would run and why; run and change nothing
      --force TASK       rerun TASK (repeatable; globs allowed); its downstream follows
  -B, --force-all        rerun every selected task
      --retries N        override every task's retries for this run
  -w, --watch            build, then rebuild on every change until Ctrl-C
      --debounce SECONDS with --watch: quiet time before a rebuild (default 0.1)
      --poll             with --watch: poll the disk instead of using native events
  -l, --list             list tasks, their help, and whether each is up to date
      --graph [FORMAT]   print the DAG (of the targets, default all) as dot (default)
                         or mermaid, stale tasks marked
      --clean [TASK ...] delete declared outputs (of TASKs, default all); with -n, list them
      --history [TASK]   recent runs, or TASK's recent attempts, from .dagmake/history
      --limit N          with --history: how many runs to show (default 10)
      --timings          after the build, write .dagmake/timings.html (a Gantt chart)
      --trace FILE       after the build, write FILE as Chrome trace-event JSON
      --json             print events as JSON lines instead of text (see the README)
      --wait             if another dagmake runs on this project, wait for it
      --executor NAME    where tasks run: local (default: processes here) or dask
      --scheduler ADDR   with --executor dask: the scheduler's address (default
                         $DAGMAKE_DASK_SCHEDULER; without one, start a local cluster)
      --scheduler-file PATH  with --executor dask: find the scheduler from its file
      --latency-wait SECONDS  after a success, wait up to SECONDS for an output that a
                         shared filesystem shows late (default 5 with dask, else 0)
  -q, --quiet            print only failures and the summary of a failed run
  -v, --verbose          stream task output as it is written, prefixed by task name
      --version          print the version
  -h, --help             print this help

exit codes: 0 success or nothing to do, 1 a task failed, 2 Pipefile or usage error
(or a lost or unusable dask cluster), 130 interrupted.
"""

# option -> (destination, kind); kind: "flag", "value", "many" (repeatable), "optional"
_OPTIONS = {
    "-f": ("file", "value"),
    "--file": ("file", "value"),
    "-C": ("directory", "value"),
    "--directory": ("directory", "value"),
    "-j": ("jobs", "value"),
    "--jobs": ("jobs", "value"),
    "-k": ("keep_going", "flag"),
    "--keep-going": ("keep_going", "flag"),
    "-n": ("dry_run", "flag"),
    "--dry-run": ("dry_run", "flag"),
    "--force": ("force", "many"),
    "-B": ("force_all", "flag"),
    "--force-all": ("force_all", "flag"),
    "--retries": ("retries", "value"),
    "-w": ("watch", "flag"),
    "--watch": ("watch", "flag"),
    "--debounce": ("debounce", "value"),
    "--poll": ("poll", "flag"),
    "-l": ("list", "flag"),
    "--list": ("list", "flag"),
    "--graph": ("graph", "optional"),
    "--clean": ("clean", "flag"),
    "--history": ("history", "flag"),
    "--limit": ("limit", "value"),
    "--timings": ("timings", "flag"),
    "--trace": ("trace", "value"),
    "--json": ("json", "flag"),
    "--wait": ("wait", "flag"),
    "--executor": ("executor", "value"),
    "--scheduler": ("scheduler", "value"),
    "--scheduler-file": ("scheduler_file", "value"),
    "--latency-wait": ("latency_wait", "value"),
    "-q": ("quiet", "flag"),
    "--quiet": ("quiet", "flag"),
    "-v": ("verbose", "flag"),
    "--verbose": ("verbose", "flag"),
    "--version": ("version", "flag"),
    "-h": ("help", "flag"),
    "--help": ("help", "flag"),
}
_OPTIONAL_CHOICES = {"graph": ("dot", "mermaid")}


class Options:
    """Parsed command-line options."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.overrides: dict[str, str] = {}
        self.force: list[str] = []
        self.file = self.directory = self.jobs = self.retries = self.debounce = None
        self.graph = None
        self.keep_going = self.dry_run = self.force_all = self.watch = self.poll = False
        self.list = self.clean = self.wait = self.quiet = self.verbose = False
        self.version = self.help = False
        self.executor = self.scheduler = self.scheduler_file = self.latency_wait = None
        self.history = self.timings = self.json = False
        self.limit = self.trace = None


def _override(word: str) -> tuple[str, str] | None:
    from .placeholders import parse_override  # only for a word with '=' in it

    return parse_override(word)


def parse_args(argv: list[str]) -> Options:
    """Parse argv by the table above (argparse alone costs more than a whole no-op run)."""
    options = Options()
    args = list(argv)
    index = 0
    only_positional = False
    while index < len(args):
        arg = args[index]
        index += 1
        if only_positional or arg == "-" or not arg.startswith("-"):
            override = None if only_positional or "=" not in arg else _override(arg)
            if override:
                options.overrides[override[0]] = override[1]
            else:
                options.targets.append(arg)
            continue
        if arg == "--":
            only_positional = True
            continue
        value = None
        if arg.startswith("--") and "=" in arg:
            arg, value = arg.split("=", 1)
        elif not arg.startswith("--") and len(arg) > 2:
            # -j4, -kn: a short option with its value or more short flags attached
            head = arg[:2]
            if head in _OPTIONS and _OPTIONS[head][1] in ("value", "many"):
                arg, value = head, arg[2:]
            else:
                # the rest is another cluster: in -kj4, -j takes "4" (getopt's rule)
                args[index:index] = ["-" + arg[2:]]
                arg = head
        if arg not in _OPTIONS:
            from .errors import did_you_mean

            raise UsageError(
                f"unknown option '{arg}'{did_you_mean(arg, _OPTIONS)}",
                hint="dagmake --help lists them",
            )
        destination, kind = _OPTIONS[arg]
        if kind == "flag":
            if value is not None:
                raise UsageError(f"option '{arg}' takes no value")
            setattr(options, destination, True)
            continue
        if kind == "optional":
            choices = _OPTIONAL_CHOICES[destination]
            if value is None and index < len(args) and args[index] in choices:
                value = args[index]
                index += 1
            elif value is None and index < len(args) and args[index] in _IMAGE_FORMATS:
                value = args[index]  # `--graph svg` means a format, not a target named svg
            if value is not None and value not in choices:
                raise UsageError(
                    f"option '{arg}' takes one of: {', '.join(choices)}; not '{value}'",
                    hint=f"render dot with Graphviz: dagmake --graph | dot -T{value} > dag.{value}"
                    if value in _IMAGE_FORMATS
                    else None,
                )
            setattr(options, destination, value or choices[0])
            continue
        if value is None:
            if index >= len(args):
                raise UsageError(f"option '{arg}' needs a value")
            value = args[index]
            index += 1
        if kind == "many":
            getattr(options, destination).append(value)
        elif destination == "directory" and options.directory is not None:
            # -C a -C b is -C a/b, as in make and git
            setattr(options, destination, os.path.join(options.directory, value))
        else:
            setattr(options, destination, value)
    options.jobs = _number(options.jobs, "--jobs", int, minimum=1)
    options.retries = _number(options.retries, "--retries", int, minimum=0)
    options.debounce = _number(options.debounce, "--debounce", float, minimum=0)
    options.latency_wait = _number(options.latency_wait, "--latency-wait", float, minimum=0)
    options.limit = _number(options.limit, "--limit", int, minimum=1)
    return options


def _number(value, option: str, kind, *, minimum):
    if value is None:
        return None
    try:
        number = kind(value)
    except ValueError:
        number = None
    # `not number >= minimum`, so that nan (never >= anything) is refused too; inf as well
    if number is None or not number >= minimum or number == float("inf"):
        what = "a whole number" if kind is int else "a finite number"
        raise UsageError(f"{option} needs {what} of at least {minimum}, not '{value}'")
    return number


def main(argv: list[str] | None = None) -> int:
    """Run dagmake with argv (default sys.argv[1:], as the program); return the exit code."""
    called_as_program = argv is None
    argv = sys.argv[1:] if argv is None else argv
    if sys.stdout is None or sys.stderr is None:  # started with `>&-`
        from .console import stand_in_for_closed_streams

        stand_in_for_closed_streams()
    if called_as_program:
        sys.stderr = _Unfailing(sys.stderr)
    # A task's output, or a path, that stdout's encoding cannot show (PYTHONIOENCODING,
    # a Latin-1 locale) is shown escaped, as stderr does: never a UnicodeEncodeError
    # that stops the build halfway.
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")
    try:
        # from the first moment: cron, systemd and CI stop a job with SIGTERM, and it
        # must end as Ctrl-C does (exit 130), also while the Pipefile is read
        with sigterm_as_interrupt(final=called_as_program):
            options = parse_args(argv)
            code = run(options)
            if sys.stdout is not None:  # here, where a full disk is reported, not at exit
                try:
                    sys.stdout.flush()
                except BrokenPipeError as error:  # the reader went away: the exit code stands
                    from .console import output_lost

                    output_lost(sys.stdout, error)
            return code
    except DagmakeError as error:
        _print_error(str(error))
        _json_error(argv, str(error), error.exit_code)
        return error.exit_code
    except KeyboardInterrupt:
        _print_error("interrupted")
        _json_error(argv, "interrupted", 130)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (dagmake -l | head): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        if not _output_failed(error):
            raise
        # `dagmake -l > /dev/full`: say so, and leave nothing for the exit to flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        _print_error(f"cannot write the output: {error.strerror or error}")
        return 1


class _Unfailing:
    """stderr that cannot fail the run: messages that cannot be written (2>/dev/full) are
    lost, and the exit code still tells how the run went."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError:
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError:
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _say_nothing_to_do(up_to_date: int) -> None:
    """The fast no-op's one line; as with any build, output that cannot be written does
    not change the exit code."""
    try:
        print(f"dagmake: no work to do ({up_to_date} up to date)", flush=True)
    except OSError as error:
        from .console import output_lost

        output_lost(sys.stdout, error)


def _output_failed(error: OSError) -> bool:
    """Whether error is stdout that cannot be written. What dagmake writes elsewhere says
    so itself, naming the file; a write to stdout fails with a full disk's errno and no
    file name, or leaves a buffer that cannot be written either."""
    import errno

    if error.filename is not None:
        return False
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF):
        return True
    try:
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError):
        return True
    return False


def _print_error(message: str) -> None:
    sys.stdout.flush()
    print(f"dagmake: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    _print_error(f"warning: {message}")


def _json_error(argv: list[str], message: str, exit_code: int) -> None:
    """With --json, end stdout with an `error` line too: a script always gets a last line."""
    if "--json" in argv:
        from .report.jsonl import error_line

        error_line(message, exit_code)


def run(options: Options) -> int:
    if options.help:
        sys.stdout.write(USAGE)
        return 0
    if options.version:
        from ._version import __version__

        print(f"dagmake {__version__}")
        return 0
    if options.directory:
        try:
            os.chdir(options.directory)
        except OSError as error:
            raise UsageError(f"cannot change to directory '{options.directory}': {error.strerror}")
    _check_modes(options)
    _check_reports(options)
    if options.file == "":
        raise UsageError("-f needs a path", hint="dagmake -f path/to/Pipefile.toml")
    if options.file is not None and os.path.isdir(options.file):
        options.file = _pipefile_in(options.file)
    if options.history:
        return _history(options)
    fresh_stamps: dict = {}
    if _plain_run(options):
        up_to_date = _nothing_changed(options, fresh_stamps)
        if up_to_date is not None:
            if not options.quiet:
                _say_nothing_to_do(up_to_date)
            return 0
    from .project import load

    read_only = options.dry_run or options.list or options.graph is not None
    project = load(options.file, overrides=options.overrides, write_cache=not read_only)
    if options.watch:
        if options.executor not in (None, "local"):
            raise UsageError("--watch runs tasks locally; it cannot be combined with --executor")
        from .watch import watch

        return watch(project, options, warn=_warn)
    if options.clean:
        return _clean(project, options)
    if read_only:
        return _show(project, options)
    from .build import build

    runner = _runner(project, options)
    latency_wait = options.latency_wait
    if latency_wait is None:  # a shared filesystem may show a worker's output late
        latency_wait = 5.0 if options.executor == "dask" else 0.0
    reporter, written = _reporters(project, options)
    try:
        summary = build(
            project,
            options.targets,
            force=options.force,
            force_all=options.force_all,
            jobs=options.jobs,
            keep_going=options.keep_going,
            retries=options.retries,
            reporter=reporter,
            stream=options.verbose,
            wait=options.wait,
            warn=_warn,
            # -q: "nothing when all is well", and waiting is no failure
            notice=(lambda message: None) if options.quiet else None,
            runner=runner,
            latency_wait=latency_wait,
            stamps=fresh_stamps,
        )
    finally:
        if runner is not None:
            runner.close()
    for report in written:
        if report.error:
            _warn(report.error)
        elif report.written and not options.quiet and not _to_a_stream(report.path):
            # with --json, stdout is for the event lines only
            stream = sys.stderr if options.json else sys.stdout
            try:
                print(f"dagmake: {report.what} written to {_display(report.path)}", file=stream)
                stream.flush()
            except OSError as error:  # a reader gone (| head): the build's exit code stands
                from .console import output_lost

                output_lost(stream, error)
    return summary.exit_code


def _to_a_stream(path: str) -> bool:
    """Whether a report went to /dev/stdout or the like: what it says is there to see."""
    from .report import stream_of

    return stream_of(path) is not None


def _reporters(project, options: Options):
    """The reporter for a build (console or JSON lines, plus files), and the file writers."""
    if options.json:
        from .report.jsonl import JsonReporter

        shown = JsonReporter()
    else:
        shown = _console(options)
    written = []
    if options.timings:
        from .report.timings import TimingsReporter

        path = os.path.join(project.state_dir, "timings.html")
        title = os.path.basename(project.root)
        written.append(TimingsReporter(path, upstream=project.graph.upstream, title=title))
    if options.trace:
        from .report.trace import TraceReporter

        _refuse_own_file(project, options.trace)
        written.append(TraceReporter(options.trace, upstream=project.graph.upstream))
    if not written:
        return shown, written
    from .events import Fanout

    return Fanout(shown, *written), written


def _refuse_own_file(project, trace: str) -> None:
    """A trace written over the Pipefile, or into .dagmake/ (over the state, where a failed
    task would then pass for done, or the timings report of the same run), is a usage
    error."""
    real = os.path.realpath(trace)
    if real == os.path.realpath(project.pipefile):
        raise UsageError(f"--trace {trace} is the Pipefile", hint="name a file: --trace run.json")
    if real.startswith(os.path.realpath(project.state_dir) + os.sep):
        raise UsageError(
            f"--trace {trace} is inside .dagmake/, which dagmake keeps for itself",
            hint="name a file elsewhere: --trace run.json",
        )


def _check_modes(options: Options) -> None:
    """Refuse two modes at once: one would be silently ignored (and -n must never be)."""
    if options.executor not in (None, "local"):  # a typo, also where nothing would run
        from .executors import check_name

        check_name(options.executor)
    modes = [
        flag
        for given, flag in [
            (options.watch, "-w/--watch"),
            (options.clean, "--clean"),
            (options.list, "-l/--list"),
            (options.graph, "--graph"),
        ]
        if given
    ]
    if len(modes) > 1:
        raise UsageError(f"{modes[0]} cannot be combined with {modes[1]}")
    if options.clean and (options.force or options.force_all):
        raise UsageError(
            f"--clean cannot be combined with {'--force' if options.force else '-B/--force-all'}",
            hint="--clean deletes outputs and runs nothing; a build after it reruns their tasks",
        )
    if options.quiet and options.verbose:
        raise UsageError("-q/--quiet and -v/--verbose contradict each other")
    if not options.watch and (options.debounce is not None or options.poll):
        flag = "--debounce" if options.debounce is not None else "--poll"
        raise UsageError(f"{flag} goes with -w/--watch", hint=f"dagmake -w {flag} ...")
    if options.watch and options.dry_run:
        raise UsageError(
            "-w/--watch cannot be combined with -n/--dry-run",
            hint="dagmake -n shows what a build would run",
        )


_IMAGE_FORMATS = ("svg", "png", "pdf", "jpg")


def _check_reports(options: Options) -> None:
    """Refuse report flags that have nothing to report on."""
    if options.limit is not None and not options.history:
        raise UsageError("--limit goes with --history", hint="dagmake --history --limit 20")
    others = [  # the modes first: `--clean -n` is one of them
        (options.list, "-l/--list"),
        (options.graph, "--graph"),
        (options.clean, "--clean"),
        (options.watch, "-w/--watch"),
        (options.dry_run, "-n/--dry-run"),
    ]
    if options.history:
        others += [
            (options.timings, "--timings"),
            (options.trace, "--trace"),
            (options.force or options.force_all, "--force/-B"),
        ]
        clash = next((flag for given, flag in others if given), None)
        if clash:
            raise UsageError(f"--history cannot be combined with {clash}")
        if len(options.targets) > 1:
            raise UsageError("--history takes at most one task", hint="dagmake --history TASK")
        return
    reports = [
        flag
        for given, flag in [
            (options.json, "--json"),
            (options.timings, "--timings"),
            (options.trace, "--trace"),
        ]
        if given
    ]
    clash = next((flag for given, flag in others if given), None)
    if reports and clash:
        raise UsageError(f"{reports[0]} reports on a build; it cannot be combined with {clash}")
    # say so now, not after a long build
    if options.trace and not os.path.isdir(os.path.dirname(os.path.abspath(options.trace))):
        raise UsageError(f"--trace {options.trace}: its directory does not exist")
    if options.trace and os.path.isdir(options.trace):
        raise UsageError(
            f"--trace {options.trace} is a directory", hint="name a file: --trace run.json"
        )


def _pipefile_in(directory: str) -> str:
    """The Pipefile that `-f DIRECTORY` names: the one in it, never one in a parent."""
    from .files import PIPEFILE

    pipefile = os.path.join(directory, PIPEFILE)
    if not os.path.isfile(pipefile) and os.path.lexists(pipefile):
        from .files import unusable_pipefile

        raise unusable_pipefile(pipefile)
    if not os.path.isfile(pipefile):
        if os.path.basename(os.path.normpath(directory)) == PIPEFILE:
            raise UsageError(f"-f {directory}: a directory, not a Pipefile")
        raise UsageError(
            f"-f {directory}: a directory with no {PIPEFILE} in it",
            hint=f"-f names a Pipefile: -f path/to/{PIPEFILE}",
        )
    return pipefile


def _history(options: Options) -> int:
    from .files import find_pipefile
    from .report.history import show

    pipefile = find_pipefile() if options.file is None else os.path.abspath(options.file)
    task = options.targets[0] if options.targets else None
    state_dir = os.path.join(os.path.dirname(pipefile), ".dagmake")

    load_errors = []

    def defined() -> dict[str, bool]:
        from .project import load

        try:
            tasks = load(pipefile, write_cache=False).graph.tasks
        except DagmakeError as error:
            load_errors.append(error)
            return {}  # a Pipefile that does not load: the history still shows
        return {name: task.is_group for name, task in tasks.items()}

    try:
        text = show(
            state_dir, task, limit=options.limit or 10, as_json=options.json, defined=defined
        )
    except TargetError:
        if load_errors:  # not "unknown task": the Pipefile that would define it is broken
            raise load_errors[0] from None
        raise
    sys.stdout.write(text)
    return 0


def _plain_run(options: Options) -> bool:
    """A build with no flag that changes what is planned or how it is shown."""
    return not (
        options.dry_run
        or options.list
        or options.graph
        or options.watch
        or options.clean
        or options.force
        or options.force_all
        or options.verbose
        or any(
            getattr(options, name, None)
            for name in ("json", "timings", "trace", "history", "executor")
        )
    )


def _nothing_changed(options: Options, fresh_stamps: dict) -> int | None:
    from . import noop
    from .files import find_pipefile

    if options.file is None:
        try:
            pipefile = find_pipefile()
        except DagmakeError:
            return None
    else:
        pipefile = os.path.abspath(options.file)
    return noop.check(pipefile, options.overrides, options.targets, fresh_stamps)


def _runner(project, options: Options):
    """The runner for --executor (None: build's default, local processes)."""
    if options.executor in (None, "local") and not (options.scheduler or options.scheduler_file):
        return None
    from .executors import get_runner

    return get_runner(
        options.executor or "local",
        project.root,
        jobs=options.jobs or project.settings.jobs,
        scheduler=options.scheduler,
        scheduler_file=options.scheduler_file,
    )


def _console(options: Options):
    from .console import ConsoleReporter

    return ConsoleReporter(quiet=options.quiet, verbose=options.verbose)


def _show(project, options: Options) -> int:
    from .build import make_plan
    from .state import StateStore

    store = StateStore(project.state_dir)
    records = store.load()
    if store.warning:
        _warn(store.warning)
    targets = options.targets
    if options.list or options.graph:
        targets = targets or list(project.graph.order)
    the_plan = make_plan(
        project,
        targets,
        force=options.force,
        force_all=options.force_all,
        records=records,
        # a missing input must not hide the pipeline from -l/--graph; -n reports it
        strict=not (options.list or options.graph),
    )
    _note_a_build_under_way(project, records, the_plan)
    if options.list:
        from .render import list_tasks

        sys.stdout.write(list_tasks(project, the_plan))
    elif options.graph:
        from .render import graph_dot, graph_mermaid

        render = graph_dot if options.graph == "dot" else graph_mermaid
        sys.stdout.write(render(project, the_plan))
    else:
        work = the_plan.work
        for step in work:
            print(f"{step.name}: {step.reason.text}")
        if not work:
            up_to_date = [n for n in the_plan.up_to_date if not project.graph.tasks[n].is_group]
            print(f"dagmake: no work to do ({len(up_to_date)} up to date)")
    return 0


def _note_a_build_under_way(project, records, the_plan) -> None:
    """A task another dagmake is running now reads as interrupted (its start is recorded
    first, so that a kill leaves it stale): say why, rather than let that mislead."""
    from .state import INTERRUPTED

    if any(
        (record := records.get(step.name)) is not None and record.status == INTERRUPTED
        for step in the_plan.work
    ):
        from .lock import is_held

        if is_held(project.state_dir):
            print(
                "dagmake: note: another dagmake is building this project now; "
                "the tasks it is running read as interrupted",
                file=sys.stderr,
            )


def _clean(project, options: Options) -> int:
    from .clean import clean
    from .lock import ProjectLock

    names = None
    if options.targets:
        graph = project.graph
        found: dict[str, None] = {}
        for pattern in options.targets:
            for name in graph.match(pattern, root=project.root, what="task to clean"):
                found[name] = None
                # as with --force: a group stands for the tasks it gathers
                if graph.tasks[name].is_group:
                    found.update(dict.fromkeys(graph.gathered(name)))
        names = list(found)
    if options.dry_run:
        removed, refused = clean(project, names, dry_run=True)
    else:
        with ProjectLock(project.state_dir) as lock:
            lock.acquire(wait=options.wait)
            removed, refused = clean(project, names)
    if not options.quiet:
        for path in removed:
            print(printable(f"would remove {path}" if options.dry_run else f"removed {path}"))
        if not removed and not refused:
            print("dagmake: nothing to clean")
    for message in refused:
        _print_error(message)
    return 2 if refused else 0
