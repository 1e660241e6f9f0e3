"""Output safety (`twostream.paths`), one-line errors and resource limits (`twostream.resources`)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from twostream.cli.console import one_line
from twostream.errors import CacheError, OutputError
from twostream.paths import (check_new_dataset, check_output_file, describe_os_error, prepare_run_dir,
                             remove_derived)
from twostream.resources import capped_workers, exclusive_lock, usable_cores
from twostream.streams.checkpoint import atomic_path, class_difference


def test_output_that_is_an_input_is_refused_through_links(tmp_path):
    video = tmp_path / "clip.avi"
    video.write_bytes(b"video")
    (tmp_path / "hard.avi").hardlink_to(video)
    (tmp_path / "soft.avi").symlink_to(video)
    for output in (video, tmp_path / "hard.avi", tmp_path / "soft.avi", tmp_path / "." / "clip.avi"):
        with pytest.raises(OutputError, match="is the input"):
            check_output_file(output, inputs=[str(video)])
    assert video.read_bytes() == b"video"
    assert check_output_file(tmp_path / "new.mp4", inputs=[video, "0", "rtsp://cam/1"]) == tmp_path / "new.mp4"


@pytest.mark.parametrize("make,match", [
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: p.write_text("kept"), "already exists"),
])
def test_output_file_refusals(tmp_path, make, match):
    make(tmp_path / "out")
    with pytest.raises(OutputError, match=match):
        check_output_file(tmp_path / "out", overwrite=False)


def test_output_under_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_file(tmp_path / "f" / "out.mp4")


def _run(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(name)
    return folder


def test_existing_run_needs_resume_or_overwrite(tmp_path):
    run = _run(tmp_path / "run", "config.json", "last.pt", "best.pt", "metrics.json", "confusion.png", "notes.md")
    with pytest.raises(OutputError, match="--resume to continue it, --overwrite"):
        prepare_run_dir(run, resumable=True)
    with pytest.raises(OutputError, match="pass one of them"):
        prepare_run_dir(run, resume=True, overwrite=True)
    prepare_run_dir(run, resume=True)  # checkpoints will change: what was derived from them goes
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "config.json", "last.pt", "notes.md"]
    prepare_run_dir(run, overwrite=True)
    assert [p.name for p in run.iterdir()] == ["notes.md"]  # the user's own file stays


def test_non_run_folder_and_missing_last_pt_are_refused(tmp_path):
    data = _run(tmp_path / "data", "classInd.txt")
    with pytest.raises(OutputError, match="not a run"):
        prepare_run_dir(data, overwrite=True)
    with pytest.raises(OutputError, match="nothing to resume"):
        prepare_run_dir(tmp_path / "new", resume=True)
    assert prepare_run_dir(tmp_path / "new") == tmp_path / "new"
    assert remove_derived(tmp_path / "new") == []


def test_existing_dataset_needs_overwrite(tmp_path):
    _run(tmp_path / "data", "classInd.txt")
    with pytest.raises(OutputError, match="--overwrite"):
        check_new_dataset(tmp_path / "data")
    check_new_dataset(tmp_path / "data", overwrite=True)
    check_new_dataset(tmp_path / "fresh")


@pytest.mark.parametrize("code,hint", [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"),
                                       (errno.EISDIR, "folder")])
def test_os_errors_are_one_line_with_the_path_and_the_fix(code, hint):
    line = describe_os_error(OSError(code, os.strerror(code), "/data/run/last.pt"))
    assert line.startswith("/data/run/last.pt: ") and hint in line and "\n" not in line


def test_dataloader_worker_error_is_unwrapped_to_its_own_line():
    from torch._utils import ExceptionWrapper

    try:
        raise CacheError("keypoint cache a.pose.npz is corrupt; run `twostream extract data --force`")
    except CacheError:
        wrapped = ExceptionWrapper(where="in DataLoader worker process 0")
    with pytest.raises(CacheError) as info:
        wrapped.reraise()
    assert "Caught CacheError" in str(info.value)
    assert one_line(info.value) == "keypoint cache a.pose.npz is corrupt; run `twostream extract data --force`"


def test_cleanup_never_hides_the_first_error(tmp_path, monkeypatch):
    def unlink(path):
        raise OSError(errno.EROFS, "Read-only file system", path)

    monkeypatch.setattr(os, "unlink", unlink)
    with pytest.raises(OSError) as info:
        with atomic_path(tmp_path / "x.json"):
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.json"))
    assert info.value.errno == errno.ENOSPC


def test_class_difference_names_the_classes():
    assert class_difference(["a", "b", "c"], ["a", "b", "d"]) == "only in the run: c; only in the data: d"
    assert "another order" in class_difference(["a", "b"], ["b", "a"])


def test_worker_counts_are_capped_with_a_note():
    notes: list[str] = []
    assert capped_workers(1000, "--workers", note=notes.append) == usable_cores()
    assert notes and "--workers 1000 capped" in notes[0]
    assert capped_workers(0, "--workers") == 0
    with pytest.raises(ValueError, match="--workers"):
        capped_workers(-1, "--workers")


def test_lock_refuses_a_second_holder_naming_its_pid(tmp_path):
    with exclusive_lock(tmp_path / "x.lock", "twostream extract on data"):
        with pytest.raises(Exception, match=f"already running \\(pid {os.getpid()}"):
            with exclusive_lock(tmp_path / "x.lock", "twostream extract on data"):
                pass
    with exclusive_lock(tmp_path / "x.lock", "again"):  # released with its holder
        pass


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_pool_workers_die_with_a_killed_parent(tmp_path):
    script = textwrap.dedent(f"""
        import multiprocessing, os, time
        from concurrent.futures import ProcessPoolExecutor
        from twostream.resources import die_with_parent
        if __name__ == "__main__":
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent)
            pid = pool.submit(os.getpid).result()
            open({str(tmp_path / 'pid')!r}, "w").write(str(pid))
            pool.submit(time.sleep, 60)
            time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    pid_file = tmp_path / "pid"
    for _ in range(300):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.1)
    worker = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    status = Path(f"/proc/{worker}/status")
    for _ in range(50):
        if not status.exists() or "\tZ" in status.read_text():  # gone, or a zombie awaiting its reaper
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    pytest.fail("the pool worker outlived its killed parent")
