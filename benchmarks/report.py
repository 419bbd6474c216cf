"""Writing benchmark results: the machine they came from, a markdown table, a JSON file.

Why: a timing is meaningless without the machine, versions and load it was measured
under, so every output carries them.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import shlex
from pathlib import Path

__all__ = [
    "RESULTS_DIR",
    "environment",
    "limit_threads",
    "markdown_table",
    "mean_and_spread",
    "record_result",
    "thread_pools",
    "write_outputs",
]

#: Where results are recorded (committed, one dated markdown file per run): the record.
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def limit_threads(n: int) -> None:
    """Cap BLAS/OpenMP pools (via threadpoolctl) and torch's intra-op threads at ``n``.

    Why: on a busy 2-core machine a 2-thread OpenBLAS Cholesky was measured 20-50x
    slower than a 1-thread one (spin-waiting threads), so timings there are only
    comparable with the pools capped.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as exc:
        raise RuntimeError(
            "--threads needs threadpoolctl; install it (pip install threadpoolctl) or set "
            "OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS before starting."
        ) from exc
    threadpool_limits(limits=n)
    import torch

    torch.set_num_threads(n)


def thread_pools() -> str:
    """The native thread pools loaded in this process and their sizes, one line."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    pools = sorted({(p["internal_api"], p["num_threads"]) for p in threadpool_info()})
    text = ", ".join(f"{api}={n}" for api, n in pools)
    try:
        import torch

        text += f", torch={torch.get_num_threads()}"
    except ImportError:  # pragma: no cover
        pass
    return text


def environment(**engines: str) -> dict[str, object]:
    """Date, machine, library versions and current load, plus ``engines`` descriptions."""
    import numpy
    import scipy

    try:
        import torch

        torch_version = torch.__version__
    except ImportError:  # pragma: no cover - torch is a core dependency
        torch_version = "not installed"
    cores = os.cpu_count()
    env: dict[str, object] = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {cores} cores, {platform.system()}",
        "processor": platform.processor() or "unknown",
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "torch": torch_version,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "thread_pools": thread_pools(),
        **engines,
    }
    env["summary"] = (
        f"{env['date_utc']} UTC, {env['machine']}, Python {env['python']}, "
        f"numpy {env['numpy']}, scipy {env['scipy']}; "
        + "; ".join(engines.values())
        + f"; threads {env['thread_pools']}; load {env['load_average_1min']}"
    )
    return env


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_outputs(
    out_dir: Path, stem: str, title: str, table_md: str, env: dict, payload: dict
) -> tuple[Path, Path]:
    """Write ``<stem>.md`` (title, environment, table) and ``<stem>.json`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out_dir / f"{stem}.md", out_dir / f"{stem}.json"
    md_path.write_text(f"## {title}\n\n{env['summary']}\n\n{table_md}")
    json_path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"wrote {md_path} and {json_path}", flush=True)
    return md_path, json_path


def mean_and_spread(values: list[float], digits: int = 4) -> str:
    """``"0.0812 ±0.0040"``: the mean over seeds and their standard deviation (n - 1).

    A missing or failed seed (NaN) shows as ``"failed"``; one seed has no spread.
    """
    if not values or any(math.isnan(v) for v in values):
        return "failed"
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.{digits}f} ±{sd:.{digits}f}"


def record_result(
    stem: str, title: str, body_md: str, env: dict, argv: list[str], when: str | None = None
) -> Path:
    """Write ``benchmarks/results/<date>-<stem>.md``: the command, environment and tables.

    Why: raw JSON stays in ``bench-output/`` (git-ignored); this dated file is the
    record that is committed. A second run on the same day gets ``-2``, ``-3``, ...
    """
    day = when or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path, k = RESULTS_DIR / f"{day}-{stem}.md", 1
    while path.exists():
        k += 1
        path = RESULTS_DIR / f"{day}-{stem}-{k}.md"
    command = "python -m benchmarks." + Path(argv[0]).stem + " " + shlex.join(argv[1:])
    path.write_text(f"# {title}\n\n`{command.strip()}`\n\n{env['summary']}\n\n{body_md}")
    print(f"recorded {path}", flush=True)
    return path
