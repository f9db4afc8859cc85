"""python -m bench [--quick] [--only NAME ...] [--db sqlite|postgres ...]

Runs pagesite's benchmarks, prints a table and writes bench/results.json.
Every figure comes with a baseline measured in the same run on the same
machine, and the ratio between the two. Exits non-zero only when a benchmark
crashed, never because a goal was missed.
"""

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone

from . import api, lateness, lists, month_view, publish, upload
from .common import POSTGRES_URL, Context, machine

BENCHMARKS = {
    "publish": (publish.run, True),
    "lateness": (lateness.run, True),
    "upload": (upload.run, False),  # no database work to speak of: SQLite only
    "lists": (lists.run, True),
    "api": (api.run, True),
    "month_view": (month_view.run, True),
}
HERE = os.path.dirname(os.path.abspath(__file__))


def fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if abs(value) >= 100:
        return f"{value:,.0f}{unit}"
    return f"{value:.2f}{unit}"


def table(rows):
    header = ["benchmark", "db", "figure", "value", "baseline", "ratio", "goal", "met"]
    lines = [[r["bench"], r["db"], r["metric"], fmt(r.get("value"), r.get("unit", "")),
              fmt(r.get("baseline"), r.get("unit", "")) + (f" ({r['baseline_label']})" if r.get("baseline_label")
                                                          else ""),
              fmt(r.get("ratio")), r.get("goal", ""),
              {True: "yes", False: "NO", None: "-"}[r.get("met")]] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    out = ["  ".join(str(x).ljust(w) for x, w in zip(header, widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)) for line in lines]
    return "\n".join(out)


def postgres_answers(url):
    import sqlalchemy

    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run of every benchmark, small sizes")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"])
    parser.add_argument("--postgres-url", default=os.environ.get("PAGESITE_BENCH_DATABASE_URL", POSTGRES_URL))
    parser.add_argument("--output", default=os.path.join(HERE, "results.json"))
    args = parser.parse_args(argv)

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    explicit_db = "--db" in (argv if argv is not None else sys.argv[1:])
    if "postgres" in args.db and not postgres_answers(args.postgres_url):
        if explicit_db:
            parser.error(f"PostgreSQL does not answer at {args.postgres_url}")
        # A fresh machine has no PostgreSQL: measure what can be measured, and say so.
        print(f"PostgreSQL does not answer at {args.postgres_url}: running the SQLite benchmarks only "
              "(set PAGESITE_BENCH_DATABASE_URL or --postgres-url to include it).", file=sys.stderr)
        args.db = [db for db in args.db if db != "postgres"]
    started = time.time()
    rows, crashed = [], []
    with tempfile.TemporaryDirectory(prefix="pagesite-bench-") as tmp:
        ctx = Context(tmp, args.quick, args.db, redis_url, args.postgres_url)
        print(f"pagesite benchmarks{' (quick)' if args.quick else ''}: databases {', '.join(args.db)}; "
              f"Redis {redis_url}; files in {tmp}", file=sys.stderr)
        for name, (run, per_db) in BENCHMARKS.items():
            if args.only and name not in args.only:
                continue
            for db in (args.db if per_db else ["sqlite"]):
                t0 = time.monotonic()
                print(f"-- {name} on {db} ...", file=sys.stderr, flush=True)
                try:
                    result = run(ctx, db)
                    rows.extend(result)
                except Exception:
                    crashed.append(f"{name}/{db}")
                    rows.append({"bench": name, "db": db, "metric": "CRASHED", "error": traceback.format_exc()})
                    traceback.print_exc()
                finally:
                    ctx.stop_all()
                    ctx.close_app()
                print(f"   {name} on {db}: {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)

    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "machine": machine(),
        "seconds": round(time.time() - started, 1),
        "rows": rows,
    }
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2, default=str)
    m = report["machine"]
    print(f"\npagesite benchmarks, {report['date']}, {m['nproc']} x {m['cpu']}, Python {m['python']}"
          f"{' (quick: small sizes, not for comparison)' if args.quick else ''}")
    print(table(rows))
    for row in rows:
        if row.get("notes"):
            print(f"\n{row['bench']}/{row['db']} {row['metric']}:\n{row['notes']}")
    print(f"\nwritten {args.output} in {report['seconds']} s")
    if crashed:
        print(f"crashed: {', '.join(crashed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
