"""What the agent says about a cluster's workers when it connects (the pure part; the
system test reads a real cluster's report)."""

from __future__ import annotations

import threading
import warnings

import pytest

from gpsteer.errors import TrainingError, TrainingWarning
from gpsteer.training.worker_environment import check_worker_environment, local_versions

HERE = local_versions()


class ReportingClient:
    """Answers ``get_versions`` as ``distributed.Client`` does, with chosen packages."""

    def __init__(
        self, workers: dict[str, dict[str, str | None]], delay: threading.Event | None = None
    ):
        self.workers, self.delay = workers, delay

    def get_versions(self, packages: list[str]) -> dict:
        if self.delay is not None:
            self.delay.wait(10)
        return {"workers": {a: {"packages": p} for a, p in self.workers.items()}}


def test_a_worker_without_gpsteer_is_an_error_naming_it() -> None:
    client = ReportingClient({"tcp://w1:1": dict(HERE), "tcp://w2:2": {**HERE, "gpsteer": None}})
    with pytest.raises(TrainingError, match=r"\['tcp://w2:2'\] at tcp://s:8786 cannot import"):
        check_worker_environment(client, "tcp://s:8786", timeout=5)


def test_other_versions_are_a_warning_saying_which() -> None:
    client = ReportingClient({"tcp://w1:1": {**HERE, "gpsteer": "0.0.1"}})
    with pytest.warns(
        TrainingWarning, match=rf"tcp://w1:1: gpsteer 0.0.1 \(here {HERE['gpsteer']}\)"
    ):
        check_worker_environment(client, "tcp://s:8786", timeout=5)


def test_the_same_environment_and_no_workers_say_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_worker_environment(ReportingClient({"tcp://w1:1": dict(HERE)}), "x", timeout=5)
        check_worker_environment(ReportingClient({}), "x", timeout=5)


def test_a_check_that_does_not_answer_is_skipped_with_a_warning() -> None:
    release = threading.Event()
    client = ReportingClient({"tcp://w1:1": dict(HERE)}, delay=release)
    try:
        with pytest.warns(TrainingWarning, match="no answer within 0.2 s"):
            check_worker_environment(client, "tcp://s:8786", timeout=0.2)
    finally:
        release.set()  # the checking thread ends
