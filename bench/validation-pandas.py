"""The pandas baseline of bench/validation-10m.ts: the same record checks, with a quarantine.

    /usr/bin/python3 bench/validation-pandas.py FILE ENTRIES_OUT [--dates distinct|column] [--probe JSON]

Reads the CSV (header customer_id,date,cds,amount), checks every record (customer_id: a string,
not missing; date: %Y%m%d; cds: an int >= 0 written as a whole number; amount: a double >= 0; a
record with more or fewer fields than the header is rejected whole), and builds the clean frame
(typed) and the quarantine frame (line, raw line, reasons). Prints one JSON object: seconds (from
reading the file to both frames, imports excluded), the seconds of each phase, the counts; writes
one `line:CODE,CODE` per quarantined record to ENTRIES_OUT (untimed). --probe: a JSON list of
[customer_id, date, cds, amount] records, checked the same way, their reasons returned (untimed).

--dates: `distinct` (the default) runs pd.to_datetime on the distinct date texts only;
`column` runs it on the whole column. Same results, but to_datetime's own cache decides from the
first 500 values whether to parse each distinct text once, and in a file sorted by customer those
are all different: it then parses all 10M texts, about 1 s per million rows.
"""

import argparse

import csv
import json
import re
import sys
import time

started = time.perf_counter()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

imported = time.perf_counter()

COLUMNS = ["customer_id", "date", "cds", "amount"]
DATE_FORMAT = "%Y%m%d"
WHOLE = re.compile(r"-?[0-9]+")
INT32 = (-(2**31), 2**31 - 1)


def parse_dates(d, distinct):
    """pd.to_datetime with the format, strict (NaT when the text does not match)."""
    if not distinct:
        return pd.to_datetime(d, format=DATE_FORMAT, errors="coerce")
    codes, uniques = pd.factorize(d)  # a missing value gets the code -1
    parsed = pd.to_datetime(pd.Series(uniques, dtype=object), format=DATE_FORMAT, errors="coerce").to_numpy()
    parsed = np.append(parsed, np.datetime64("NaT", "ns"))  # so that the code -1 is NaT
    return pd.Series(parsed[codes], index=d.index)


def check(df, distinct_dates=True):
    """The typed columns and the failed checks of a frame of text columns (NaN where missing).

    Returns (typed, checks): checks is a list of (column, code, boolean mask), in column order.
    """
    cid, d, c, a = (df[name] for name in COLUMNS)
    date = parse_dates(d, distinct_dates)
    # A whole number written as one (2.5 and 3.0 are not): the regex runs once per distinct text.
    whole = [v for v in c.dropna().unique() if WHOLE.fullmatch(v)]
    cds = pd.to_numeric(c.where(c.isin(whole)), errors="coerce")
    cds_ok = cds.between(*INT32)
    amount = pd.to_numeric(a, errors="coerce")
    checks = [
        ("customer_id", "MISSING_VALUE", cid.isna()),
        ("date", "MISSING_VALUE", d.isna()),
        ("date", "TYPE_MISMATCH", d.notna() & date.isna()),
        ("cds", "MISSING_VALUE", c.isna()),
        ("cds", "TYPE_MISMATCH", c.notna() & ~cds_ok),
        ("cds", "OUT_OF_RANGE", cds_ok & (cds < 0)),
        ("amount", "MISSING_VALUE", a.isna()),
        ("amount", "TYPE_MISMATCH", a.notna() & amount.isna()),
        ("amount", "OUT_OF_RANGE", amount < 0),
    ]
    return {"customer_id": cid, "date": date, "cds": cds, "amount": amount}, checks


def main():
    cli = argparse.ArgumentParser()
    cli.add_argument("file")
    cli.add_argument("entries_out")
    cli.add_argument("--dates", choices=["distinct", "column"], default="distinct")
    cli.add_argument("--probe", default="[]")
    args = cli.parse_args()
    path, entries_path, distinct_dates = args.file, args.entries_out, args.dates == "distinct"
    probe = json.loads(args.probe)
    phases = {}
    t0 = time.perf_counter()
    cpu0 = time.process_time()

    # Fields per line, from the bytes: pandas' C reader skips a line with too many fields (or
    # fails) and pads one with too few, without saying which. No quoting in this file.
    raw = np.fromfile(path, dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    if raw.size and raw[-1] != ord("\n"):
        ends = np.append(ends, raw.size)
    starts = np.concatenate(([0], ends[:-1] + 1))
    fields = np.diff(np.searchsorted(np.flatnonzero(raw == ord(",")), ends), prepend=0) + 1
    header = raw[starts[0] : ends[0]].tobytes().decode().rstrip("\r")
    if header != ",".join(COLUMNS):
        raise SystemExit(f"unexpected header {header!r}")
    data_fields = fields[1:]
    line_of = np.arange(2, len(fields) + 1)
    too_many = line_of[data_fields > len(COLUMNS)]
    t1 = time.perf_counter()
    phases["fields per line (numpy)"] = t1 - t0

    df = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        quoting=csv.QUOTE_NONE,
        on_bad_lines="skip",
        skip_blank_lines=False,
        engine="c",
    )
    lines = line_of[data_fields <= len(COLUMNS)]
    if list(df.columns) != COLUMNS or len(df) != len(lines):
        raise SystemExit(f"read {len(df)} records with columns {list(df.columns)}, expected {len(lines)}")
    too_few = data_fields[data_fields <= len(COLUMNS)] < len(COLUMNS)
    t2 = time.perf_counter()
    phases["read_csv"] = t2 - t1

    typed, checks = check(df, distinct_dates)
    bad = too_few.copy()
    masks = []
    for column, code, mask in checks:
        m = mask.to_numpy() & ~too_few  # a record with too few fields is rejected whole
        masks.append((column, code, m))
        bad |= m
    t3 = time.perf_counter()
    phases["checks"] = t3 - t2

    keep = ~bad
    clean = pd.DataFrame(
        {
            "customer_id": typed["customer_id"][keep],
            "date": typed["date"][keep],
            "cds": typed["cds"][keep].astype("int32"),
            "amount": typed["amount"][keep],
        }
    )
    parts = [pd.DataFrame({"line": lines[m], "order": k, "column": column, "code": code}) for k, (column, code, m) in enumerate(masks)]
    parts.append(pd.DataFrame({"line": lines[too_few], "order": -1, "column": None, "code": "TOO_FEW_VALUES"}))
    parts.append(pd.DataFrame({"line": too_many, "order": -1, "column": None, "code": "TOO_MANY_VALUES"}))
    reasons = pd.concat(parts, ignore_index=True).sort_values(["line", "order"], kind="stable")
    quarantine = reasons.groupby("line", sort=True).agg(columns=("column", list), codes=("code", list)).reset_index()
    quarantine["raw"] = [raw[starts[n - 1] : ends[n - 1]].tobytes().decode() for n in quarantine["line"]]
    t4 = time.perf_counter()
    phases["clean and quarantine frames"] = t4 - t3
    cpu = time.process_time() - cpu0

    with open(entries_path, "w") as out:
        for line, codes in zip(quarantine["line"], quarantine["codes"]):
            out.write(f"{line}:{','.join(sorted(codes))}\n")

    probed = []
    if probe:
        frame = pd.DataFrame(probe, columns=COLUMNS).replace("", np.nan)
        _, probe_checks = check(frame, distinct_dates)
        for i in range(len(frame)):
            probed.append([f"{column}:{code}" for column, code, mask in probe_checks if mask.iloc[i]])

    print(
        json.dumps(
            {
                "seconds": t4 - t0,
                "cpu_seconds": cpu,
                "import_seconds": imported - started,
                "phases": phases,
                "pandas": pd.__version__,
                "numpy": np.__version__,
                "python": sys.version.split()[0],
                "dates": args.dates,
                "clean": int(len(clean)),
                "quarantined": int(len(quarantine)),
                "reasons": {k: int(v) for k, v in reasons["code"].value_counts().items()},
                "probe": probed,
            }
        )
    )


main()
