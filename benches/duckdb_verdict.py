"""The DuckDB peer of `vpcflow verdict`: the closest SQL a DuckDB user would write for the same
answer (docs/verdicts.md), timed, and its pairs compared with vpcflow's JSON output.

    python3 benches/duckdb_verdict.py LOG ENDPOINTS.toml THREADS [VPCFLOW_JSON]

Prints the best of 3 wall-clock seconds on the first line. With VPCFLOW_JSON (the output of
`vpcflow verdict --output json`), the second line says whether both report the same pairs, each
with the same verdict and attempt count: `same N` or `differ …` (and the exit code is 1).

What the SQL does, as vpcflow does it:
1. classify each OK TCP record as a request (to a catalogued address and port) or a reply (from
   one), seen at the endpoint side when its ENI is the endpoint's;
2. cut each (endpoint, client, client port) into attempts: sorted by start, a record starting
   more than 15 minutes after the latest end so far begins a new attempt;
3. the attempt's outcome: connected (a reply ACCEPTed), blocked_egress, blocked_ingress,
   blocked_return, else unanswered;
4. per pair: blocked (every attempt blocked), allowed (every attempt connected), unanswered,
   else intermittent.
It leaves out what the generated v2 data cannot show (tcp-flags, flow-direction, pkt-*addr,
reject-reason), which would only add columns.
"""

import json
import sys
import time
import tomllib

import duckdb

SQL = """
WITH f AS (
    SELECT * FROM read_csv(?, delim=' ', header=true, nullstr='-')
),
obs AS (
    SELECT e.name AS endpoint, f.srcaddr AS client, f.srcport AS cport, true AS request,
           f.action, f."interface-id" = e.eni AS at_endpoint, f."start" AS s, f."end" AS t
    FROM f JOIN endpoints e ON f.dstaddr = e.address AND f.dstport = e.port
    WHERE f.protocol = 6 AND f."log-status" = 'OK'
    UNION ALL
    SELECT e.name, f.dstaddr, f.dstport, false,
           f.action, f."interface-id" = e.eni, f."start", f."end"
    FROM f JOIN endpoints e ON f.srcaddr = e.address AND f.srcport = e.port
    WHERE f.protocol = 6 AND f."log-status" = 'OK'
),
islands AS (
    SELECT *, CASE WHEN s > max(t) OVER (
                  PARTITION BY endpoint, client, cport ORDER BY s, t
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) + 900
              THEN 1 ELSE 0 END AS new_attempt
    FROM obs
),
numbered AS (
    SELECT *, sum(new_attempt) OVER (
                  PARTITION BY endpoint, client, cport ORDER BY s, t
                  ROWS UNBOUNDED PRECEDING) AS attempt
    FROM islands
),
attempts AS (
    SELECT endpoint, client,
        CASE WHEN bool_or(NOT request AND action = 'ACCEPT') THEN 'connected'
             WHEN bool_or(request AND action = 'REJECT' AND NOT at_endpoint) THEN 'blocked_egress'
             WHEN bool_or(request AND action = 'REJECT' AND at_endpoint) THEN 'blocked_ingress'
             WHEN bool_or(NOT request AND action = 'REJECT') THEN 'blocked_return'
             ELSE 'unanswered' END AS outcome
    FROM numbered GROUP BY endpoint, client, cport, attempt
)
SELECT endpoint, client,
    CASE WHEN bool_and(outcome LIKE 'blocked%') THEN 'blocked'
         WHEN bool_and(outcome = 'connected') THEN 'allowed'
         WHEN bool_and(outcome = 'unanswered') THEN 'unanswered'
         ELSE 'intermittent' END AS verdict,
    count(*) AS attempts
FROM attempts GROUP BY endpoint, client ORDER BY endpoint, client
"""


def main() -> int:
    log, catalogue, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(catalogue, "rb") as fh:
        endpoints = tomllib.load(fh)["endpoint"]
    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    con.execute("CREATE TABLE endpoints (name VARCHAR, address VARCHAR, port INTEGER, eni VARCHAR)")
    for e in endpoints:
        address = e.get("address") or e["addresses"][0]
        con.execute("INSERT INTO endpoints VALUES (?, ?, ?, ?)",
                    [e["name"], address, e["port"], e.get("interface_id")])
    best, rows = None, []
    for _ in range(3):
        started = time.perf_counter()
        rows = con.execute(SQL, [log]).fetchall()
        took = time.perf_counter() - started
        best = took if best is None or took < best else best
    print(best)
    if len(sys.argv) > 4:
        with open(sys.argv[4]) as fh:
            ours = sorted((v["endpoint"], v["client"], v["verdict"], v["attempts"])
                          for v in map(json.loads, fh) if v)
        theirs = sorted(tuple(r) for r in rows)
        if ours == theirs:
            print(f"same {len(ours)}")
        else:
            only_ours = [r for r in ours if r not in theirs][:3]
            only_theirs = [r for r in theirs if r not in ours][:3]
            print(f"differ: {len(ours)} vs {len(theirs)} pairs; vpcflow only {only_ours}; "
                  f"DuckDB only {only_theirs}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
