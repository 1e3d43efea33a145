"""Monthly revenue per acquisition cohort, with pandas: a command step of the cltv pipeline.

Strata exports the step's inputs as CSV files named in STRATA_INPUT_<NAME> and reads the output
from STRATA_OUTPUT, checking it against the cohort_revenue dataset's schema.
"""
import os

import pandas as pd

daily = pd.read_csv(os.environ["STRATA_INPUT_DAILY"], parse_dates=["date"])
first = daily.groupby("customer_id")["date"].transform("min")
daily["cohort"] = first.dt.to_period("M").dt.to_timestamp()
daily["month"] = daily["date"].dt.to_period("M").dt.to_timestamp()

out = (
    daily.groupby(["cohort", "month"])
    .agg(customers=("customer_id", "nunique"), revenue=("amount", "sum"))
    .reset_index()
)
out["revenue"] = out["revenue"].round(2)
out["cohort"] = out["cohort"].dt.strftime("%Y-%m-%d")
out["month"] = out["month"].dt.strftime("%Y-%m-%d")
out.to_csv(os.environ["STRATA_OUTPUT"], index=False)
print(f"{len(out)} cohort-months from {len(daily)} purchase days")
