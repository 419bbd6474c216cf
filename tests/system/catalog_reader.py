"""A second process that reads a catalog while a session writes a run into it.

Run as ``python catalog_reader.py DIRECTORY``: it opens the catalog the way any other
process would (``open_catalog(DIRECTORY)``, which finds the session's server), polls
the newest run every ``POLL_S`` seconds, notes when each ``primary`` event first
became visible, replays the run once while it is still open, and prints one line
``READER {json}`` when the run has stopped:

``latencies``   seconds from each event's time to the poll that first saw it;
``seen_open``   primary events seen before the stop document was;
``replayed``    points in the agent rebuilt by ``replay`` while the run was open;
``final``       primary events in the stopped run.
"""

from __future__ import annotations

import json
import sys
import time

from gpsteer.catalog import open_catalog, replay, run_documents

POLL_S = 0.1
DEADLINE_S = 600.0


def _poll(run) -> tuple[dict[int, float], bool]:
    """Primary events (seq_num -> event time) and whether the run has stopped.

    The stop document is looked up in the run's metadata: the documents of an open
    run end with a made-up ``stop`` (bluesky-tiled-plugins' export always closes it).
    """
    primary, events = set(), {}
    stopped = run.metadata.get("stop") is not None  # before the events: none is missed
    for name, doc in run_documents(run):
        if name == "descriptor" and doc["name"] == "primary":
            primary.add(doc["uid"])
        elif name == "event" and doc["descriptor"] in primary:
            events[int(doc["seq_num"])] = float(doc["time"])
        elif name == "event_page" and doc["descriptor"] in primary:
            for seq, t in zip(doc["seq_num"], doc["time"], strict=True):
                events[int(seq)] = float(t)
    return events, stopped


def main(directory: str, known: int) -> None:
    catalog = open_catalog(directory)
    end = time.monotonic() + DEADLINE_S
    while len(catalog.runs) <= known:  # wait for the session's run to start
        if time.monotonic() > end:
            raise SystemExit("READER no run started")
        time.sleep(POLL_S)
    uid = catalog.runs[-1].metadata["start"]["uid"]
    first_seen: dict[int, float] = {}
    seen_open, replayed, events = 0, None, {}
    while time.monotonic() < end:
        run = catalog.runs[uid]  # fetched again: a node's structure is cached when fetched
        events, stopped = _poll(run)
        now = time.time()
        for seq, _ in events.items():
            first_seen.setdefault(seq, now)
        if stopped:
            break
        seen_open = len(events)
        if replayed is None and seen_open >= 5:
            agent = replay(run)  # a second process replaying during the run
            replayed = agent.n
            agent.close()
        time.sleep(POLL_S)
    latencies = sorted(first_seen[seq] - t for seq, t in events.items())
    result = {
        "latencies": latencies,
        "seen_open": seen_open,
        "replayed": replayed,
        "final": len(events),
    }
    print("READER " + json.dumps(result), flush=True)
    catalog.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
