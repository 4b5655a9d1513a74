"""Hostile files: every reader of a user file is bounded in time and memory and names what
is wrong; every writer refuses what it must not replace and leaves nothing behind.

The reader matrix (BAD_INPUTS 53-57 and the hostile-input issue): each of ``nn.load`` and
``nn.load_csv`` is given a named pipe, a device, a directory, a socket, symlinks (good,
to a pipe, dangling, looping), an empty, a truncated, a huge and a wrongly encoded file,
and one it may not read. The playground's state strings are readers too (see the end).

Cases that could block (a pipe with no writer) or eat memory (``/dev/zero``, a 2 GB
sparse file) run in a child process under a per-case alarm and an address-space limit:
a regression fails here, it does not hang CI or exhaust the machine.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from chainrule.nn import MLP, ModelFormatError, SpecialFileError, load, load_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NOBODY = 65534

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")

# -- a child process that tries each reader on each path, bounded ------------------------------

CHILD = textwrap.dedent(r"""
    import json, os, resource, signal, sys
    # A regression that reads /dev/zero or a 2 GB file fails with MemoryError here.
    limit = 3 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    class Blocked(Exception):
        pass

    def alarm(signum, frame):
        raise Blocked("still blocked after 5 s")

    signal.signal(signal.SIGALRM, alarm)
    from chainrule.nn import load, load_csv
    from chainrule.nn import files

    def race(path):
        # os.stat says "regular file", but a pipe is what gets opened: fstat must catch
        # it, and O_NONBLOCK must keep the open from blocking.
        real = os.stat
        def fake(p, *args, **kwargs):
            st = real(p, *args, **kwargs)
            if os.fsdecode(p) == path:
                return os.stat_result((0o100644,) + tuple(st)[1:])
            return st
        files.os.stat = fake
        try:
            return load_csv(path)
        finally:
            files.os.stat = real

    readers = {"nn.load": load, "load_csv": load_csv, "race": race}
    if sys.argv[2] == "nobody":
        # Root reads everything: drop to nobody once everything is imported (the
        # interpreter itself may live where nobody may not look).
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    results = {}
    for key, reader, path in json.loads(sys.argv[1]):
        signal.alarm(5)
        try:
            out = readers[reader](path)
            results[key] = ["returned", repr(out)[:200], []]
        except BaseException as e:
            results[key] = [type(e).__name__, str(e),
                            [c.__name__ for c in type(e).__mro__]]
        finally:
            signal.alarm(0)
    print(json.dumps(results))
""")


def run_readers(cases: list[tuple[str, str, str]], *, as_nobody: bool = False) -> dict:
    """Run ``reader(path)`` for each case in a child; {key: [class, message, mro names]}."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cases),
                           "nobody" if as_nobody else "me"], capture_output=True,
                          text=True, timeout=60 + 6 * len(cases), env=env, cwd="/")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def shared_dir():
    """A folder other users can enter (the permission case runs as nobody when root)."""
    folder = Path(tempfile.mkdtemp(prefix="chainrule-hostile-"))
    folder.chmod(0o755)
    yield folder
    for p in sorted(folder.rglob("*"), key=lambda p: -len(p.parts)):
        if p.is_symlink() or not p.is_dir():
            p.unlink()
        else:
            p.chmod(0o755)
            p.rmdir()
    folder.rmdir()


GOOD_CSV = "x1,x2,y\n0.5,1,0\n2,-1e-3,1\n"


@pytest.fixture(scope="module")
def special(shared_dir):
    """Pipes, devices, a socket, a directory, symlinks and a 2 GB sparse file."""
    d = shared_dir
    paths = {"directory": d / "folder", "dev_zero": Path("/dev/zero"),
             "dev_null": Path("/dev/null"), "sparse": d / "huge.bin",
             "dangling": d / "dangling", "loop": d / "loop_a"}
    paths["directory"].mkdir()
    with open(paths["sparse"], "wb") as f:
        f.truncate(2 * 2**30)  # 2 GB of holes: no disk used, ~all of it would be read
    os.symlink(d / "missing", paths["dangling"])
    os.symlink(d / "loop_b", d / "loop_a")
    os.symlink(d / "loop_a", d / "loop_b")
    os.symlink("/dev/zero", d / "zero_link")
    paths["zero_link"] = d / "zero_link"
    if hasattr(os, "mkfifo"):
        os.mkfifo(d / "fifo")
        os.symlink(d / "fifo", d / "fifo_link")
        paths["fifo"], paths["fifo_link"] = d / "fifo", d / "fifo_link"
    sock = None
    if hasattr(socket, "AF_UNIX"):
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(d / "socket"))
        paths["socket"] = d / "socket"
    yield {k: str(v) for k, v in paths.items()}
    if sock is not None:
        sock.close()


@pytest.fixture(scope="module")
def matrix(special):
    cases = [(f"{reader} {case}", reader, path) for case, path in special.items()
             for reader in ("nn.load", "load_csv")]
    if "fifo" in special:
        cases.append(("race fifo", "race", special["fifo"]))
    return run_readers(cases)


# (case, exception class, message pattern); the message always starts with the path
SPECIAL = [
    ("fifo", "SpecialFileError", r"is a named pipe \(FIFO\), not a regular file"),
    ("fifo_link", "SpecialFileError", r"is a named pipe \(FIFO\), not a regular file"),
    ("dev_zero", "SpecialFileError", r"is a character device, not a regular file"),
    ("dev_null", "SpecialFileError", r"is a character device, not a regular file"),
    ("zero_link", "SpecialFileError", r"is a character device, not a regular file"),
    ("socket", "SpecialFileError", r"is a socket, not a regular file"),
    ("directory", "IsADirectoryError", r"is a directory, not a regular file"),
    ("dangling", "FileNotFoundError", r"cannot read \(No such file or directory\)"),
    ("loop", "OSError", r"cannot read \(Too many levels of symbolic links\)"),
]


@pytest.mark.parametrize("reader", ["nn.load", "load_csv"])
@pytest.mark.parametrize(("case", "error", "message"), SPECIAL, ids=[c[0] for c in SPECIAL])
def test_special_files_are_refused_without_blocking_or_reading(matrix, special, reader, case,
                                                               error, message):
    if case not in special:
        pytest.skip(f"no {case} on this system")
    name, text, mro = matrix[f"{reader} {case}"]
    assert name != "Blocked", f"{reader} blocked on {case}: {text}"
    assert name == error, (name, text)
    assert "OSError" in mro  # "the path is unusable", as open() itself reports it
    assert text.startswith(special[case] + ": ")
    assert re.search(message, text), text


@needs_fifo
def test_a_pipe_swapped_in_after_the_type_check_does_not_block_open(matrix):
    name, text, _ = matrix["race fifo"]
    assert name == "SpecialFileError", (name, text)
    assert "named pipe" in text


@pytest.mark.parametrize(("reader", "message"), [
    ("nn.load", r"the file is 2147483648 bytes, more than the limit of 67108864 \(pass "
                r"max_bytes=\.\.\. to allow it\)"),
    ("load_csv", r"the file is 2147483648 bytes, more than the limit of 268435456 \(pass "
                 r"max_bytes=\.\.\. to read it\)"),
])
def test_a_huge_file_is_refused_before_reading(matrix, special, reader, message):
    name, text, mro = matrix[f"{reader} sparse"]
    assert name in ("ModelFormatError", "ValueError"), (name, text)
    assert "ValueError" in mro and text.startswith(special["sparse"] + ": ")
    assert re.search(message, text), text


def test_permission_denied_names_the_file(shared_dir):
    secret = shared_dir / "secret"
    secret.mkdir()
    for name, text in (("model.json", None), ("data.csv", GOOD_CSV)):
        path = secret / name
        if text is None:
            MLP(2, [1], seed=0).save(path)
        else:
            path.write_text(text)
        path.chmod(0o000)
    secret.chmod(0o755)
    cases = [("nn.load", "nn.load", str(secret / "model.json")),
             ("load_csv", "load_csv", str(secret / "data.csv"))]
    results = run_readers(cases, as_nobody=IS_ROOT)
    for key, _, path in cases:
        name, text, _ = results[key]
        assert name == "PermissionError", (key, name, text)
        assert text == f"{path}: cannot read (Permission denied)"


@pytest.mark.skipif(not IS_ROOT, reason="needs root to run a child as nobody")
def test_permission_denied_on_saving_into_a_folder_names_the_file(shared_dir):
    folder = shared_dir / "locked"
    folder.mkdir(mode=0o755)  # nobody may enter it but not write in it
    code = textwrap.dedent(f"""
        import os
        from chainrule.nn import MLP
        os.setgroups([])
        os.setgid({NOBODY})
        os.setuid({NOBODY})
        try:
            MLP(2, [1], seed=0).save({str(folder / "m.json")!r})
        except PermissionError as e:
            print(str(e))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"{folder / 'm.json'}: cannot save: cannot create a file "
                                   f"in folder {folder} (Permission denied)")
    assert os.listdir(folder) == []


# -- in-process cases: nothing here can block ----------------------------------------------------


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.json"
    MLP(2, [3, 1], seed=0).save(path)
    return path


def test_symlinks_are_followed_when_reading(tmp_path, model_file):
    link = tmp_path / "link.json"
    link.symlink_to(model_file)
    assert load(link).state_dict() == load(model_file).state_dict()
    csv_file = tmp_path / "data.csv"
    csv_file.write_text(GOOD_CSV)
    (tmp_path / "data_link.csv").symlink_to(csv_file)
    X, y = load_csv(tmp_path / "data_link.csv")  # noqa: N806
    assert X.tolist() == [[0.5, 1.0], [2.0, -0.001]] and y.tolist() == [0.0, 1.0]


def test_empty_files(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with pytest.raises(ModelFormatError, match=r"empty: the file is empty"):
        load(path)
    with pytest.raises(ValueError, match=r"empty: the file is empty"):
        load_csv(path)


def test_every_truncation_of_a_model_file_is_a_format_error(model_file):
    whole = model_file.read_bytes()
    for cut in sorted({1, 2, 10, len(whole) // 3, len(whole) // 2, len(whole) - 3,
                       len(whole) - 2}):
        model_file.write_bytes(whole[:cut])
        with pytest.raises(ModelFormatError) as info:
            load(model_file)
        assert str(info.value).startswith(f"{model_file}: ")
    model_file.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ModelFormatError, match=r"ends too early \(truncated file\?\)"):
        load(model_file)


@pytest.mark.parametrize(("data", "message"), [
    (b"x1,x2,y\n0.5,1,0\n2,-1", r"row 3, column 'y': missing \(the row has 2 fields, "
                                r"expected 3\)"),
    (b"x1,x2,y\n0.5,1,0\n2,3,-1e", r"row 3, column 'y': '-1e' is not a number"),
    (b"x1,x2,y\n0.5,1,0\n2,\"-1", r"malformed CSV \(row 3: unexpected end of data\)"),
    ("x1,x2,\u00e9\n".encode()[:-2], r"not UTF-8 text \(byte 0xc3 at offset 6\)"),
])
def test_truncated_csv_files_name_the_row(tmp_path, data, message):
    path = tmp_path / "cut.csv"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        load_csv(path)


@pytest.mark.parametrize(("encoding", "model_message", "csv_message"), [
    ("utf-16", r"not UTF-8 text \(byte 0xff at offset 0\)",
     r"not UTF-8 text \(byte 0xff at offset 0\); it looks like UTF-16: save it as UTF-8"),
    ("latin-1", r"not UTF-8 text \(byte 0xe9 at offset \d+\)",
     r"not UTF-8 text \(byte 0xe9 at offset 3\)"),
])
def test_wrong_encodings(tmp_path, model_file, encoding, model_message, csv_message):
    text = model_file.read_text().replace('"MLP"', '"MLP\u00e9"')
    bad_model = tmp_path / "bad.json"
    bad_model.write_bytes(text.encode(encoding))
    with pytest.raises(ModelFormatError, match=model_message):
        load(bad_model)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_bytes("x1,\u00e9,y\n1,2,3\n".encode(encoding))
    with pytest.raises(ValueError, match=csv_message):
        load_csv(bad_csv)


def test_size_limits_can_be_raised(tmp_path, model_file):
    size = model_file.stat().st_size
    with pytest.raises(ModelFormatError, match=f"the file is {size} bytes, more than the "
                                               f"limit of {size - 1}"):
        load(model_file, max_bytes=size - 1)
    assert load(model_file, max_bytes=size).state_dict() == load(model_file).state_dict()
    csv_file = tmp_path / "data.csv"
    csv_file.write_text(GOOD_CSV)
    n = len(GOOD_CSV)
    with pytest.raises(ValueError, match=f"the file is {n} bytes, more than the limit of "
                                         f"{n - 1} \\(pass max_bytes=\\.\\.\\. to read it\\)"):
        load_csv(csv_file, max_bytes=n - 1)
    assert load_csv(csv_file, max_bytes=n)[1].tolist() == [0.0, 1.0]
    for bad in (0, -1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="max_bytes must be a positive int"):
            load_csv(csv_file, max_bytes=bad)


def test_a_file_that_grows_past_the_limit_while_read_is_cut_off(tmp_path, monkeypatch):
    """``st_size`` can lie (``/proc`` says 0, a log grows): the limit counts bytes read."""
    path = tmp_path / "data.csv"
    path.write_text("a,b\n" + "1,2\n" * 1000)
    real_fstat = os.fstat

    def small(fd):
        st = real_fstat(fd)
        return os.stat_result((*tuple(st)[:6], 10, *tuple(st)[7:]))

    monkeypatch.setattr(os, "fstat", small)
    with pytest.raises(ValueError, match="more than the limit of 100 bytes"):
        load_csv(path, max_bytes=100)


def test_a_line_with_no_end_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "one_line.csv"
    with open(path, "wb") as f:
        f.write(b"a,b\n")
        f.write(b"1" * (9 * 2**20))
    with pytest.raises(ValueError, match=r"a line at byte offset \d+ is longer than 8388608 "
                                         r"bytes"):
        load_csv(path)


# -- bare file descriptors (issue case 5) ---------------------------------------------------


@pytest.mark.parametrize("bad", [3, 0, True, None, 1.5, ["m.json"]])
def test_a_bare_int_or_other_non_path_is_refused(tmp_path, model_file, bad):
    fd = os.open(model_file, os.O_RDONLY)  # an fd that load(int) would read and close
    try:
        for call in (lambda: load(bad), lambda: load_csv(bad),
                     lambda: MLP(2, [1], seed=0).save(bad)):
            with pytest.raises(TypeError, match=r"must be a file name \(str or os.PathLike\)"):
                call()
        for call in (lambda: load(fd), lambda: load_csv(fd)):
            with pytest.raises(TypeError, match="file descriptors are not accepted"):
                call()
        os.fstat(fd)  # still open
    finally:
        os.close(fd)


def test_empty_and_nul_paths_are_refused(model_file):
    with pytest.raises(ValueError, match="path is empty"):
        load("")
    with pytest.raises(ValueError, match="NUL"):
        load_csv("a\0b")


# -- saving over what is not a regular file (issue case 3) -----------------------------------


@pytest.fixture
def model():
    return MLP(2, [3, 1], seed=0)


def _only(folder, *names):
    assert sorted(os.listdir(folder)) == sorted(names)


@needs_fifo
def test_save_refuses_a_pipe_and_leaves_it_a_pipe(tmp_path, model):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(SpecialFileError, match=r"fifo: is a named pipe \(FIFO\), not a regular "
                                               r"file; refusing to replace it"):
        model.save(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    _only(tmp_path, "fifo")


@pytest.mark.skipif(not IS_ROOT, reason="making a device node needs root")
def test_save_refuses_a_device_and_leaves_it_a_device(tmp_path, model):
    """What ``model.save('/dev/full')`` did as root, on a private copy of /dev/full."""
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    with pytest.raises(SpecialFileError, match=r"full: is a character device, not a regular "
                                               r"file; refusing to replace it"):
        model.save(full)
    assert stat.S_ISCHR(os.lstat(full).st_mode)
    _only(tmp_path, "full")


def test_save_refuses_a_directory_and_a_socket(tmp_path, model):
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError, match=r"folder: is a directory, not a regular file"):
        model.save(tmp_path / "folder")
    assert (tmp_path / "folder").is_dir()
    if hasattr(socket, "AF_UNIX"):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(tmp_path / "sock"))
            with pytest.raises(SpecialFileError, match="is a socket"):
                model.save(tmp_path / "sock")
            assert stat.S_ISSOCK(os.lstat(tmp_path / "sock").st_mode)
    assert not [n for n in os.listdir(tmp_path) if "tmp" in n]


def test_save_follows_a_symlink_and_keeps_it(tmp_path, model):
    real = tmp_path / "runs" / "model.json"
    real.parent.mkdir()
    MLP(2, [3, 1], seed=1).save(real)
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load(real).state_dict() == model.state_dict()
    _only(real.parent, "model.json")
    # relative links resolve from the link's folder
    rel = tmp_path / "rel.json"
    rel.symlink_to(Path("runs") / "model.json")
    MLP(2, [3, 1], seed=2).save(rel)
    assert rel.is_symlink() and load(real).state_dict() == MLP(2, [3, 1], seed=2).state_dict()


def test_save_refuses_dangling_and_looping_symlinks_and_links_to_pipes(tmp_path, model):
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nowhere" / "m.json")
    with pytest.raises(FileNotFoundError, match=r"dangling.json: is a symlink to .*nowhere/m.json"
                                                r", which does not exist"):
        model.save(dangling)
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    with pytest.raises(OSError, match=r"loop.json: symlink loop") as info:
        model.save(loop)
    assert info.value.errno == errno.ELOOP
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo")
        (tmp_path / "to_fifo").symlink_to(tmp_path / "fifo")
        with pytest.raises(SpecialFileError, match="is a named pipe"):
            model.save(tmp_path / "to_fifo")
    assert all(p.is_symlink() or p.name == "fifo" for p in tmp_path.iterdir())


@pytest.mark.parametrize("mode", [0o444, 0o400, 0o000])
def test_save_respects_a_read_only_file_even_as_root(tmp_path, model, mode):
    path = tmp_path / "model.json"
    MLP(2, [3, 1], seed=1).save(path)
    before = path.read_bytes()
    path.chmod(mode)
    with pytest.raises(PermissionError, match=rf"model.json: the file is read-only \(mode "
                                              rf"0{mode:03o}\); refusing to replace it"):
        model.save(path)
    path.chmod(0o644)
    assert path.read_bytes() == before
    _only(tmp_path, "model.json")


# -- temporary files (issue case 4) -------------------------------------------------------------

TEMP = re.compile(r"\.model\.json\.[0-9a-f]{16}\.chainrule-tmp")


def test_temporary_files_have_a_recognisable_name(tmp_path, model, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    model.save(tmp_path / "model.json")
    assert len(seen) == 1 and TEMP.fullmatch(seen[0]), seen


def _killed_save(path: Path) -> None:
    """A child that dies by SIGKILL in the middle of saving ``path`` (after writing the
    temporary file, before renaming it): what kill -9 during a save leaves behind."""
    code = textwrap.dedent(f"""
        import os, signal
        from chainrule.nn import MLP
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
        MLP(2, [3, 1], seed=5).save({str(path)!r})
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr


def test_a_save_killed_with_sigkill_leaves_a_temp_file_the_next_save_removes(tmp_path, model):
    path = tmp_path / "model.json"
    MLP(2, [3, 1], seed=1).save(path)
    before = path.read_bytes()
    _killed_save(path)
    first = [n for n in os.listdir(tmp_path) if n != "model.json"]
    assert len(first) == 1 and TEMP.fullmatch(first[0]), first
    assert path.read_bytes() == before  # the old file is intact
    _killed_save(path)  # removes the first one's temporary file, leaves its own
    second = [n for n in os.listdir(tmp_path) if n != "model.json"]
    assert len(second) == 1 and second != first, (first, second)
    model.save(path)
    _only(tmp_path, "model.json")
    assert load(path).state_dict() == model.state_dict()


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_cleanup_spares_temp_files_being_written_and_other_targets(tmp_path, model):
    import fcntl

    path = tmp_path / "model.json"
    busy = tmp_path / ".model.json.0123456789abcdef.chainrule-tmp"
    other = tmp_path / ".other.json.0123456789abcdef.chainrule-tmp"
    longer = tmp_path / ".model.json.x.0123456789abcdef.chainrule-tmp"
    unrelated = tmp_path / ".model.json.bak"
    for p in (busy, other, longer, unrelated):
        p.write_text("partial")
    with open(busy, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # a save in progress, in another process
        model.save(path)
        assert busy.exists()
    model.save(path)  # its writer is gone now
    _only(tmp_path, "model.json", other.name, longer.name, unrelated.name)


def test_viz_files_use_the_same_safe_writer(tmp_path):
    from chainrule.viz._io import atomic_write

    target = tmp_path / "picture.svg"
    target.write_text("old")
    target.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only"):
        atomic_write(target, "<svg/>")
    target.chmod(0o644)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.svg")
        with pytest.raises(SpecialFileError):
            atomic_write(tmp_path / "pipe.svg", "<svg/>")
    assert atomic_write(target, "<svg/>") == target and target.read_text() == "<svg/>"


# -- non-ASCII digits in CSV (issue case 10) ---------------------------------------------------


@pytest.mark.parametrize(("token", "shown"), [
    ("\u0661\u0662", r"'١٢' is not a number: it contains '١' \(U\+0661 ARABIC-INDIC DIGIT ONE\); "
                     r"only the ASCII digits 0-9 are read as digits"),
    ("\uff11", r"'１' is not a number: it contains '１' \(U\+FF11 FULLWIDTH DIGIT ONE\)"),
    ("\u00b2", r"contains '²' \(U\+00B2 SUPERSCRIPT TWO\)"),
    ("1\u00a0", r"contains '\\xa0' \(U\+00A0 NO-BREAK SPACE\)"),
    ("\u22121", r"contains '−' \(U\+2212 MINUS SIGN\)"),
    ("\u0967.\u0665", r"U\+0967 DEVANAGARI DIGIT ONE"),
])
def test_non_ascii_digits_are_refused_naming_the_character(tmp_path, token, shown):
    path = tmp_path / "d.csv"
    path.write_text(f"a,b\n1,{token}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"d.csv: row 2, column 'b': .*{shown}"):
        load_csv(path)


def test_python_itself_reads_those_digits():
    """Why the CSV reader must check: float() takes any Unicode decimal digit."""
    assert float("\u0661\u0662") == 12.0 and float("\uff11") == 1.0


def test_non_ascii_column_names_are_fine(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("größe,μ,Ziel\n1,2,3\n", encoding="utf-8")
    X, y = load_csv(path, target="Ziel")  # noqa: N806
    assert X.tolist() == [[1.0, 2.0]] and y.tolist() == [3.0]


# -- large files in bounded memory (issue case 2) -----------------------------------------------


def test_a_file_larger_than_a_chunk_is_read_in_pieces(tmp_path, monkeypatch):
    import chainrule.nn.data as data

    rng = np.random.default_rng(0)
    values = rng.normal(size=(3000, 3)) * 10.0 ** rng.integers(-5, 5, size=(3000, 3))
    lines = ["a,b,c"] + [",".join(repr(float(v)) for v in row) for row in values]
    text = "\r\n".join(lines[:1500]) + "\n" + "\n".join(lines[1500:]) + "\n"
    path = tmp_path / "big.csv"
    path.write_text(text, newline="")
    monkeypatch.setattr(data, "_CHUNK", 997)  # many chunks, cut at odd places
    X, y = load_csv(path)  # noqa: N806
    assert np.array_equal(np.column_stack([X, y]), values)
    # a bad token far in: the row is the line of the file
    lines[2500] = lines[2500].replace(",", ",x", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"row 2501, column 'b': 'x"):
        load_csv(path)


def test_memory_stays_near_the_size_of_the_result(tmp_path):
    """200,000 rows: the arrays are 4.6 MiB; reading used to take ~60x that. Now the
    arrays plus a constant for one chunk in flight (its bytes, its text, numpy's buffers)."""
    import tracemalloc

    path = tmp_path / "rows.csv"
    rng = np.random.default_rng(1)
    data = rng.uniform(-1, 1, size=(200_000, 3)).round(6)
    np.savetxt(path, data, delimiter=",", header="a,b,c", comments="", fmt="%.6f")
    tracemalloc.start()
    try:
        X, y = load_csv(path)  # noqa: N806
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    result = X.nbytes + y.nbytes
    assert np.array_equal(np.column_stack([X, y]), data)
    assert peak < result + 12 * 2**20, (peak, result)


_NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.sampled_from(["0", "-0", "+1", ".5", "5.", "1e5", "1E-5", "-1.5e+300", "1e-400",
                     " 2 ", "\t3", "007", "1e0001"]),
)
_ODD_TOKENS = st.sampled_from([
    "1e999", "nan", "-inf", "Infinity", "", " ", "x", "1_0", "0x10", '"4"', "\u0661",
    "1\u00a0", "1e", "--1", "1.2.3", "\x0c1", "1\x1f", "\x00"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 4).flatmap(lambda w: st.lists(st.lists(_NUMBERS, min_size=w,
                                                                  max_size=w),
                                                         min_size=1, max_size=40)),
       odd=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 3), _ODD_TOKENS), max_size=2),
       blank=st.sets(st.integers(0, 40), max_size=2), crlf=st.booleans(),
       allow_nonfinite=st.booleans(), delimiter=st.sampled_from([",", ";", "\t"]))
def test_numpy_path_and_field_by_field_path_agree(tmp_path, monkeypatch, rows, odd, blank, crlf,
                                                  allow_nonfinite, delimiter):
    """The numpy path only ever takes a chunk the careful path reads the same, bit for bit;
    whatever it does not take, the careful path reads (or refuses) exactly as before."""
    import chainrule.nn.data as data

    for i, j, token in odd:
        if i < len(rows) and j < len(rows[i]):
            rows[i][j] = token
    width = len(rows[0])
    lines = [delimiter.join(f"c{j}" for j in range(width))]
    for i, row in enumerate(rows):
        if i in blank:
            lines.append("")
        lines.append(delimiter.join(row))
    path = tmp_path / "h.csv"
    path.write_bytes(("\r\n" if crlf else "\n").join(lines).encode() + b"\n")
    monkeypatch.setattr(data, "_CHUNK", 40)

    def read(fast):
        monkeypatch.setattr(data, "_FAST", fast)
        try:
            X, y = load_csv(path, allow_nonfinite=allow_nonfinite, delimiter=delimiter)  # noqa: N806
            return "ok", np.column_stack([X, y]).tobytes()
        except ValueError as e:
            return "error", str(e)

    assert read(True) == read(False)


@pytest.mark.parametrize("char", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85",
                                  "\u00a0", "\u2003", "\r"])
def test_odd_white_space_is_not_a_number(tmp_path, char):
    """numpy's reader and Python's float() skip these around a number; the CSV reader
    takes spaces and tabs only (a stray \\x1f is corruption, not layout)."""
    path = tmp_path / "d.csv"
    path.write_bytes(f"a,b\n1,2\n1,{char}3\n".encode())
    with pytest.raises(ValueError, match=r"row 3, column 'b': .* is not a number|"
                                         r"row 3, column 'b': missing"):
        load_csv(path)


@pytest.mark.parametrize("reported_size", [0, 50, None])
def test_the_arrays_grow_when_the_size_guess_is_wrong(tmp_path, monkeypatch, reported_size):
    """The first guess of the row count comes from st_size and the first chunk: short rows
    after long ones, or a size of 0 (as /proc reports), make the arrays grow instead."""
    import chainrule.nn.data as data

    lines = ["a,b,c"] + [f"{i}.123456789012345,{-i}.5,{i % 2}" for i in range(200)] + \
        [f"{i},{i},{i}" for i in range(3000)]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(data, "_CHUNK", 256)
    if reported_size is not None:
        real_fstat = os.fstat
        monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result(
            (*tuple(real_fstat(fd))[:6], reported_size, *tuple(real_fstat(fd))[7:])))
    X, y = load_csv(path)  # noqa: N806
    assert X.shape == (3200, 2) and y.shape == (3200,)
    assert X.flags.c_contiguous and X.flags.owndata and y.flags.owndata
    assert X[199].tolist() == [199.123456789012345, -199.5] and y[199] == 1.0
    assert X[-1].tolist() == [2999.0, 2999.0] and y[-1] == 2999.0
    X, y = load_csv(path, target=None)  # noqa: N806
    assert y is None and X.shape == (3200, 3)


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_saving_works_where_files_cannot_be_locked(tmp_path, model, monkeypatch):
    """Some network file systems refuse flock (ENOLCK): the save goes ahead unlocked."""
    from chainrule.nn import files

    def no_locks(fd, how):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(files.fcntl, "flock", no_locks)
    model.save(tmp_path / "model.json")
    for p in model.parameters():
        p.data += 1.0
    model.save(tmp_path / "model.json")  # over the first, still without a lock
    _only(tmp_path, "model.json")
    assert load(tmp_path / "model.json").state_dict() == model.state_dict()
