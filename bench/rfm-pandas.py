"""The pandas baseline of bench/rfm-10m.ts: the same RFM summary as its SQL, from the same CSV.

    /usr/bin/python3 bench/rfm-pandas.py FILE OBSERVATION_END

Prints one JSON object: seconds (from read_csv to the sorted summary, imports excluded), the
seconds of each phase, and the checks (rows, sum of frequency, sum of monetary value).
"""

import json
import sys
import time

started = time.perf_counter()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

imported = time.perf_counter()

path, end_text = sys.argv[1], sys.argv[2]
end = pd.Timestamp(end_text)
phases = {}

t0 = time.perf_counter()
cpu0 = time.process_time()
tx = pd.read_csv(
    path,
    dtype={"customer_id": str, "date": str, "number_of_cds": "int32", "dollar_value": "float64"},
    engine="c",
)
t1 = time.perf_counter()
phases["read_csv"] = t1 - t0
tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
t2 = time.perf_counter()
phases["parse dates"] = t2 - t1

# Several purchases on one day count as one transaction (the BTYD convention).
daily = tx.groupby(["customer_id", "date"], sort=False, as_index=False).agg(amount=("dollar_value", "sum"))
t3 = time.perf_counter()
phases["daily dedup"] = t3 - t2

calibration = daily[daily["date"] <= end]
per = calibration.groupby("customer_id", sort=True).agg(first=("date", "min"), last=("date", "max"), n=("date", "size"))
first_of_row = calibration["customer_id"].map(per["first"])
repeat = calibration[calibration["date"] > first_of_row]
summary = pd.DataFrame(
    {
        "frequency": (per["n"] - 1).astype("int32"),
        "recency": (per["last"] - per["first"]).dt.days / 7.0,
        "T": (end - per["first"]).dt.days / 7.0,
        "monetary_value": repeat.groupby("customer_id", sort=False)["amount"].mean().reindex(per.index).fillna(0.0),
    }
).reset_index()
t4 = time.perf_counter()
phases["RFM per customer"] = t4 - t3

print(
    json.dumps(
        {
            "seconds": t4 - t0,
            "cpu_seconds": time.process_time() - cpu0,
            "import_seconds": imported - started,
            "phases": phases,
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
            "rows": int(len(summary)),
            "frequency_sum": int(summary["frequency"].sum()),
            "monetary_sum": float(summary["monetary_value"].sum()),
            "recency_sum": float(summary["recency"].sum()),
            "t_sum": float(summary["T"].sum()),
        }
    )
)
