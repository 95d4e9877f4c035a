"""The Parquet row log's files are whole or absent: for a reader while they are written, and after a kill -9."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq

from evmon.online.rowlog import ParquetWriter, RowBatch, RowSchema

SCHEMA = RowSchema("ts", (("x", "num"), ("region", "cat")))


def batch(rows: int, start: float) -> RowBatch:
    out = RowBatch(SCHEMA)
    out.times.extend(start + i / 100_000 for i in range(rows))  # within one hour: one file a batch
    out.values["x"].extend(float(i) for i in range(rows))
    out.values["region"].extend("north" if i % 2 else None for i in range(rows))
    return out


def test_a_reader_globbing_the_files_never_sees_half_a_file(tmp_path: Path) -> None:
    writer = ParquetWriter(tmp_path / "rows")
    done = threading.Event()
    reads: list[int] = []
    failures: list[str] = []

    def read() -> None:
        while not done.is_set():
            for path in glob.glob(str(tmp_path / "rows" / "*" / "*" / "*.parquet")):
                try:
                    reads.append(pq.read_table(path).num_rows)
                except Exception as exc:
                    failures.append(f"{path}: {exc}")

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(150):
        assert writer.write(batch(2000, 1_764_900_000 + i * 60)) == 2000
    done.set()
    reader.join()
    assert failures == []
    assert len(reads) > 150 and set(reads) <= {2000}  # every file read was whole
    assert sum(pq.read_table(p).num_rows for p in (tmp_path / "rows").rglob("*.parquet")) == 150 * 2000


def test_a_writer_killed_mid_write_leaves_only_whole_files(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from pathlib import Path
        from evmon.online.rowlog import ParquetWriter
        from tests.online.test_rowlog import batch
        writer = ParquetWriter(Path({str(tmp_path / "rows")!r}))
        i = 0
        while True:
            writer.write(batch(20000, 1_764_900_000 + i))
            i += 1
            print(i, flush=True)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while int(process.stdout.readline() or 0) < 5 and time.monotonic() < deadline:
        pass
    time.sleep(0.05)  # somewhere in the middle of a write
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)

    visible = glob.glob(str(tmp_path / "rows" / "*" / "*" / "*.parquet"))
    assert len(visible) >= 5
    assert all(pq.read_table(p).num_rows == 20000 for p in visible)  # none half-written
