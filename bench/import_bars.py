"""Bar import throughput on the real 2.4M-row S&P 500 daily parquet (../shared/data), validation
included, into a fresh PostgreSQL database and a fresh SQLite file, and into a PostgreSQL database
that already holds the demo data (an overlapping import, as every incremental update is).

Each target gets a throwaway database (PostgreSQL `hg_marketdata_bench` on 127.0.0.1, SQLite
var/bench_import_bars.sqlite3), migrated by `manage.py migrate` with DATABASE_URL pointing at it;
then a child process times `bars_import(..., skip_invalid=True)` (the file has 5,402 rows with a
blank symbol) from reading the file to the committed transaction, and a second import of the
same file (0 new rows, all counted as already stored). The overlapping import recreates the
PostgreSQL database, runs `manage.py load_demo_data` (66k bars, among them the same Pooksoft bars
and Kaggle bars that conflict with the file's), then times one import of the full file: its
conflicting rows are skipped and reported. The databases are dropped afterwards.
Each import's phase breakdown (read, validate, write_*, commit; wall seconds) is printed and
included in the JSON, with the 1/5/15-minute load average at the end (the machine is shared).

    nice .venv/bin/python bench/import_bars.py [--sqlite-rows N] [--postgres-only] [--keep]

--sqlite-rows N times SQLite on the first N rows only (written to var/ as a parquet prefix), for
machines where the full SQLite run is too slow; the JSON then says so in "sqlite_rows_measured".
Last line: one JSON object {"rows", "postgres_rows_per_s", "postgres_overlap_rows_per_s",
"sqlite_rows_per_s", ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout, or wherever SHARED_DATA points (a git worktree lives elsewhere).
SHARED_DATA = Path(os.environ.get("SHARED_DATA", ROOT.parent / "shared" / "data"))
PARQUET = SHARED_DATA / "daily" / "pooksoft_sp500_daily_adjusted_1999_2021.parquet"
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
PG_DB = "hg_marketdata_bench"
SQLITE_FILE = ROOT / "var" / "bench_import_bars.sqlite3"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def django_env(url: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="tradingsite.settings")
    env.pop("REDIS_URL", None)
    return env


def manage(url: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=django_env(url),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def migrate(url: str) -> None:
    manage(url, "migrate", "--noinput", "-v", "0")


def child_import(url: str, path: Path, labels: str = "fresh,again") -> list[dict]:
    """Run the timed imports (one per label) in a fresh process configured for `url`; relay its
    progress lines."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(path), "--labels", labels],
        cwd=ROOT,
        env=django_env(url),
        stdout=subprocess.PIPE,
        text=True,
    )
    results = []
    for line in proc.stdout:
        line = line.rstrip()
        if line.startswith("RESULT "):
            results.append(json.loads(line[len("RESULT ") :]))
        else:
            log(f"  {line}")
    if proc.wait() != 0:
        sys.exit(f"import child failed with exit code {proc.returncode}")
    return results


def child(path: str, labels: list[str]) -> None:
    """In the child: import once per label (e.g. fresh, then the same file again), printing one
    RESULT line each."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from apps.marketdata.services import bars_import

    last = {"stage": None, "t": 0.0}

    def progress(*, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage != last["stage"] or now - last["t"] > 2 or done == total:
            print(f"{stage}: {done:,}/{total:,} rows", flush=True)
            last.update(stage=stage, t=now)

    backend_pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend_pid = cur.fetchone()[0]

    for label in labels:
        timings: dict[str, float] = {}
        server_cpu0, client_cpu0 = backend_cpu_seconds(backend_pid), time.process_time()
        t0 = time.perf_counter()
        run = bars_import(
            path=path, freq="1d", source="pooksoft", skip_invalid=True, progress=progress, timings=timings
        )
        seconds = time.perf_counter() - t0
        cpu = {"client_cpu_s": round(time.process_time() - client_cpu0, 2)}
        if backend_pid is not None:
            cpu["server_cpu_s"] = round(backend_cpu_seconds(backend_pid) - server_cpu0, 2)
        print(f"{label}: {run.status}: {run.message}", flush=True)
        print(f"{label} phases: {phases_text(timings, seconds)}", flush=True)
        print(f"{label} CPU: {cpu} (wall {seconds:.2f} s)", flush=True)
        fields = ("rows_read", "rows_valid", "rows_rejected", "rows_inserted", "rows_existing")
        phases = {k: round(v, 2) for k, v in timings.items()}
        print(
            "RESULT "
            + json.dumps(
                {
                    "label": label,
                    "seconds": seconds,
                    "phases": phases,
                    **cpu,
                    **{f: getattr(run, f) for f in fields},
                }
            )
        )


def backend_cpu_seconds(pid: int | None) -> float:
    """CPU seconds (user + system) of a PostgreSQL backend, from /proc when the server runs on
    this machine (0.0 otherwise): unlike wall time, it hardly moves with the machine's load."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phases_text(timings: dict[str, float], total: float) -> str:
    """ "read 0.6 s, validate 1.7 s, ..., other 0.1 s" in the order the import ran them."""
    parts = [f"{name} {sec:.2f} s" for name, sec in timings.items()]
    # Phases marked "overlaps" ran concurrently with another one and are already inside it.
    serial = sum(sec for name, sec in timings.items() if "overlaps" not in name)
    parts.append(f"other {total - serial:.2f} s")
    return ", ".join(parts)


def prefix_file(rows: int) -> Path:
    import pyarrow.parquet as pq

    out = ROOT / "var" / f"bench_import_bars_prefix_{rows}.parquet"
    pq.write_table(pq.read_table(PARQUET).slice(0, rows), out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--labels", default="fresh,again", help=argparse.SUPPRESS)
    parser.add_argument(
        "--sqlite-rows", type=int, default=0, help="time SQLite on this many leading rows only"
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument(
        "--postgres-only", action="store_true", help="skip SQLite (the JSON then has no sqlite figures)"
    )
    args = parser.parse_args()
    if args.child:
        child(args.child, args.labels.split(","))
        return
    if not PARQUET.exists():
        sys.exit(f"missing {PARQUET}: the shared data folder is required for this benchmark")
    (ROOT / "var").mkdir(exist_ok=True)
    figures: dict[str, object] = {}

    log(f"PostgreSQL: fresh database {PG_DB} on {PG_SERVER}")
    pg_admin(f"DROP DATABASE IF EXISTS {PG_DB}")
    pg_admin(f"CREATE DATABASE {PG_DB}")
    pg_url = f"{PG_SERVER}/{PG_DB}"
    try:
        migrate(pg_url)
        fresh, again = child_import(pg_url, PARQUET)
        log(f"PostgreSQL overlap: database {PG_DB} recreated with the demo data, then the full file")
        pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        pg_admin(f"CREATE DATABASE {PG_DB}")
        migrate(pg_url)
        manage(pg_url, "load_demo_data")
        (overlap,) = child_import(pg_url, PARQUET, labels="overlap")
    finally:
        if not args.keep:
            pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    rows = fresh["rows_read"]
    log(
        f"PostgreSQL: {rows:,} rows in {fresh['seconds']:.1f} s; re-import {again['seconds']:.1f} s; "
        f"after the demo data {overlap['seconds']:.1f} s"
    )
    figures.update(
        rows=rows,
        rows_inserted=fresh["rows_inserted"],
        rows_rejected=fresh["rows_rejected"],
        postgres_seconds=round(fresh["seconds"], 2),
        postgres_rows_per_s=round(rows / fresh["seconds"]),
        postgres_reimport_rows_per_s=round(rows / again["seconds"]),
        postgres_reimport_rows_existing=again["rows_existing"],
        postgres_phases_s=fresh["phases"],
        postgres_server_cpu_s=fresh.get("server_cpu_s"),
        postgres_client_cpu_s=fresh["client_cpu_s"],
        postgres_reimport_phases_s=again["phases"],
        postgres_overlap_rows_per_s=round(rows / overlap["seconds"]),
        postgres_overlap_seconds=round(overlap["seconds"], 2),
        postgres_overlap_rows_inserted=overlap["rows_inserted"],
        postgres_overlap_rows_existing=overlap["rows_existing"],
        postgres_overlap_rows_rejected=overlap["rows_rejected"],
        postgres_overlap_phases_s=overlap["phases"],
        load_average=os.getloadavg(),
    )
    if args.postgres_only:
        print(json.dumps(figures))
        return

    sqlite_path = prefix_file(args.sqlite_rows) if args.sqlite_rows else PARQUET
    log(
        f"SQLite: fresh file {SQLITE_FILE.relative_to(ROOT)} ({'first ' + str(args.sqlite_rows) if args.sqlite_rows else 'all'} rows)"
    )
    SQLITE_FILE.unlink(missing_ok=True)
    sqlite_url = f"sqlite:///{SQLITE_FILE}"
    try:
        migrate(sqlite_url)
        s_fresh, s_again = child_import(sqlite_url, sqlite_path)
    finally:
        if not args.keep:
            for p in (SQLITE_FILE, Path(f"{SQLITE_FILE}-wal"), Path(f"{SQLITE_FILE}-shm")):
                p.unlink(missing_ok=True)
        if args.sqlite_rows:
            sqlite_path.unlink(missing_ok=True)
    log(
        f"SQLite: {s_fresh['rows_read']:,} rows in {s_fresh['seconds']:.1f} s; re-import {s_again['seconds']:.1f} s"
    )
    figures.update(
        sqlite_rows_measured=s_fresh["rows_read"],
        sqlite_seconds=round(s_fresh["seconds"], 2),
        sqlite_rows_per_s=round(s_fresh["rows_read"] / s_fresh["seconds"]),
        sqlite_reimport_rows_per_s=round(s_fresh["rows_read"] / s_again["seconds"]),
        sqlite_phases_s=s_fresh["phases"],
        sqlite_cpu_s=s_fresh["client_cpu_s"],
        load_average=os.getloadavg(),
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
