"""The standard-library reference: one form POST per row, 16 threads, nothing else.

What an operator could write in ten minutes without the importer: `urllib.request`, a thread
pool, no retries, no journal, no results file. Standard library only, on purpose, so that its
CPU time is the floor the importer's transport is measured against.

    python bench/reference_loop.py BASE_URL ROWS.csv [--workers 16]

ROWS.csv has a header and `name,country` rows. The API id and key come from AVOSMS_ID and
AVOSMS_KEY. Prints one line: `created=N seconds=S`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

CREATE_PATH = "/v1/contact/list/create"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("rows")
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    with open(args.rows, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    endpoint = args.base_url.rstrip("/") + CREATE_PATH
    account = {"id": os.environ["AVOSMS_ID"], "key": os.environ["AVOSMS_KEY"]}
    # Loopback needs no proxy, and the bench's environment may name one.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def create(row: list[str]) -> bool:
        form = {**account, "listContactName": row[0], "listContactCountryCode": row[1]}
        try:
            with opener.open(endpoint, data=urlencode(form).encode(), timeout=30) as answer:
                return bool(json.loads(answer.read()).get("code") == "OK")
        except (OSError, ValueError):
            return False

    started = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as pool:
        created = sum(pool.map(create, rows))
    print(f"created={created} seconds={time.perf_counter() - started:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
