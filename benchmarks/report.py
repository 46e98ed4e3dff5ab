#!/usr/bin/env python3
"""Write benchmarks/RESULTS.md from the JSON results of run_peers.sh.

Reads ``drift-<rows>.json`` and ``quality-<rows>.json`` (written by the shared harness's
``drift_bench.py`` / ``quality_bench.py``), ``files-<format>-<rows>.json`` (written by
``big_files.py``) and the run log, and writes medians, spreads, peak memory and ratios:

- each peer against mlgate (``product``): ratio of medians, and the median over rounds of the
  ratio within a round (every tool ran once per round, back to back, in rotating order);
- mlgate against the plain baselines, the same two ways.

Usage: python benchmarks/report.py RESULTS_DIR OUT.md [--command CMD] [--log run.log]

Hand-written notes after the marker line ``NOTES_MARK`` in an existing OUT.md are kept.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

PRODUCT = "product"
NOTES_MARK = "<!-- Notes below this line are written by hand; report.py keeps them. -->"
NAMES = {
    "product": "**mlgate**",
    "baseline_ks_chi2_psi": "baseline KS + PSI + chi² (numpy/scipy)",
    "baseline_wd_js": "baseline normed Wasserstein + JS (numpy/scipy)",
    "evidently_default": "Evidently DataDriftPreset (default)",
    "evidently_ks": "Evidently DataDriftPreset (ks/chisquare)",
    "whylogs": "whylogs",
    "baseline_pandas": "baseline pandas summary",
    "evidently_summary": "Evidently DataSummaryPreset",
    "whylogs_profile": "whylogs profile",
}
BASELINES = {"drift": ["baseline_ks_chi2_psi", "baseline_wd_js"], "quality": ["baseline_pandas"]}
GOAL_DRIFT_SPEEDUP = 20.0
GOAL_PEAK_MIB = 1024


def _ok(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r.get("status") == "ok"]


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in _ok(runs) if r.get(key) is not None]
    return statistics.median(values) if values else None


def _paired(runs: list[dict[str, Any]], base: list[dict[str, Any]]) -> float | None:
    by_round = {r["run"]: r["wall_s"] for r in _ok(base)}
    ratios = [r["wall_s"] / by_round[r["run"]] for r in _ok(runs) if r["run"] in by_round]
    return statistics.median(ratios) if ratios else None


def _ratio(runs: list[dict[str, Any]], base: list[dict[str, Any]]) -> str:
    top, bottom, paired = _median(runs, "wall_s"), _median(base, "wall_s"), _paired(runs, base)
    if top is None or bottom is None or paired is None:
        return "—"
    return f"{top / bottom:.2f}x ({paired:.2f}x)"


def load(folder: Path) -> dict[str, dict[int, dict[str, list[dict[str, Any]]]]]:
    """Return {bench: {rows: {tool: runs}}} from the harness's JSON files."""
    found: dict[str, dict[int, dict[str, list[dict[str, Any]]]]] = {"drift": {}, "quality": {}}
    for bench in found:
        for path in sorted(folder.glob(f"{bench}-*.json")):
            for rows, tools in json.loads(path.read_text())["results"].items():
                found[bench][int(rows)] = tools
    return found


def bench_table(bench: str, results: dict[int, dict[str, list[dict[str, Any]]]]) -> list[str]:
    """Return the Markdown table of one benchmark, every size."""
    header = [
        "tool",
        "rows",
        "runs ok",
        "median s (min–max)",
        "peak RSS MiB (before)",
        "tool / mlgate",
        "mlgate / this baseline",
    ]
    if bench == "drift":
        header.append("drifted columns")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for rows in sorted(results):
        tools = results[rows]
        product = tools.get(PRODUCT, [])
        for tool, runs in tools.items():
            ok = _ok(runs)
            if not ok:
                status = runs[0].get("status", "?") if runs else "not run"
                lines.append(
                    f"| {NAMES.get(tool, tool)} | {rows:,} | 0/{len(runs)} | {status} |"
                    + " |" * (4 if bench == "drift" else 3)
                )
                continue
            walls = [r["wall_s"] for r in ok]
            versus = "—" if tool == PRODUCT else _ratio(runs, product)
            under = _ratio(product, runs) if tool in BASELINES[bench] else "—"
            cells = [
                NAMES.get(tool, tool),
                f"{rows:,}",
                f"{len(ok)}/{len(runs)}",
                f"{_median(runs, 'wall_s'):.3f} ({min(walls):.2f}–{max(walls):.2f})",
                f"{_median(runs, 'peak_rss_mib'):.0f} ({_median(runs, 'rss_before_mib'):.0f})",
                versus,
                under,
            ]
            if bench == "drift":
                cells.append(", ".join(ok[-1].get("drifted", [])))
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def goals(results: dict[str, dict[int, dict[str, list[dict[str, Any]]]]]) -> list[str]:
    """Return one line per project goal: what was measured, and met or missed."""
    lines = []
    drift, quality = results["drift"], results["quality"]
    for rows in sorted(drift):
        tools = drift[rows]
        if PRODUCT in tools and "evidently_default" in tools:
            speedup = _median(tools["evidently_default"], "wall_s") / _median(
                tools[PRODUCT], "wall_s"
            )
            paired = 1 / _paired(tools[PRODUCT], tools["evidently_default"])
            verdict = "met" if speedup >= GOAL_DRIFT_SPEEDUP else "MISSED"
            goal = " (goal at 1M: >= 20x)" if rows >= 1_000_000 else ""
            lines.append(
                f"- Drift, {rows:,} rows: mlgate is **{speedup:.1f}x** faster than Evidently's "
                f"DataDriftPreset (paired {paired:.1f}x){goal}"
                + (f": **{verdict}**." if goal else ".")
            )
    for bench, results_of in (("drift", drift), ("quality", quality)):
        for rows in sorted(results_of):
            tools = results_of[rows]
            if PRODUCT not in tools:
                continue
            for base in BASELINES[bench]:
                if base not in tools:
                    continue
                top = _median(tools[PRODUCT], "wall_s") / _median(tools[base], "wall_s")
                paired = _paired(tools[PRODUCT], tools[base])
                verdict = "met" if top <= 1.0 and (paired or 2.0) <= 1.0 else "MISSED"
                lines.append(
                    f"- {bench.capitalize()}, {rows:,} rows: mlgate takes **{top:.2f}x** the time "
                    f"of {NAMES[base]} (paired {paired:.2f}x); goal <= 1x: **{verdict}**."
                )
    for bench, results_of in (("drift", drift), ("quality", quality)):
        for rows in sorted(results_of):
            if rows >= 1_000_000 and PRODUCT in results_of[rows]:
                peak = _median(results_of[rows][PRODUCT], "peak_rss_mib")
                before = _median(results_of[rows][PRODUCT], "rss_before_mib")
                verdict = "met" if peak < GOAL_PEAK_MIB else "MISSED"
                lines.append(
                    f"- {bench.capitalize()}, {rows:,} rows: mlgate peaks at **{peak:.0f} MiB** "
                    f"RSS, {before:.0f} MiB of it held before the check (frames, libraries); "
                    f"goal < 1 GB: **{verdict}**."
                )
    return lines


def files_section(folder: Path) -> list[str]:
    """Return the table of the large-file checks (big_files.py)."""
    lines = [
        "| check | file | rows | file MiB | wall s | peak RSS MiB (before) | measured | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    found = False
    for path in sorted(folder.glob("files-*.json")):
        payload = json.loads(path.read_text())
        for r in payload["results"]:
            found = True
            lines.append(
                f"| `{r['check']}` | {payload['format']} | {payload['rows']:,} | "
                f"{r['file_mib']:,} | {r['wall_s']:.1f} | {r['peak_rss_mib']:.0f} "
                f"({r['rss_before_mib']:.0f}) | {r.get('measured', '')} | "
                f"{r['status']}: {r['summary']} |"
            )
    return lines if found else ["(not run)"]


def versions(results: dict[str, dict[int, dict[str, list[dict[str, Any]]]]]) -> str:
    """Return the library versions the workers reported."""
    seen: dict[str, str] = {}
    for per_rows in results.values():
        for tools in per_rows.values():
            for runs in tools.values():
                for run in _ok(runs):
                    for name, version in (run.get("versions") or {}).items():
                        if version:
                            seen[name] = version
    return ", ".join(f"{k} {v}" for k, v in sorted(seen.items()))


def _git() -> str:
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()

    dirty = " plus uncommitted changes" if run("status", "--porcelain", "src") else ""
    return f"{run('rev-parse', '--short', 'HEAD')}{dirty}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--command", default="bash benchmarks/run_peers.sh")
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()

    results = load(args.results)
    log = args.log.read_text().splitlines() if args.log and args.log.exists() else []
    stages = [line for line in log if line.startswith(("===", "machine:", "started", "finished"))]
    rounds = {
        rows: max((len(runs) for runs in tools.values()), default=0)
        for per_rows in results.values()
        for rows, tools in per_rows.items()
    }
    text = [
        "# mlgate against its peers: measured results",
        "",
        "Produced by `benchmarks/run_peers.sh` (which calls `benchmarks/report.py`); see "
        "`benchmarks/README.md`. Every number below comes from that one run unless marked.",
        "",
        "Command:",
        "",
        f"    {args.command}",
        "",
        f"mlgate at git {_git()}. Rounds per tool: "
        + ", ".join(f"{n} at {rows:,} rows" for rows, n in sorted(rounds.items()))
        + ".",
        "",
        "## Goals",
        "",
        *goals(results),
        "",
        "## Drift report (reference vs current, 25 columns)",
        "",
        "mlgate runs its registered drift check (`mlgate.bench_adapters.drift`): PSI, KS, "
        "Wasserstein and JS per numeric column, chi-square, JS and PSI per categorical one, "
        "missing shares, findings and figures. Ratios: ratio of medians (median of per-round "
        "ratios).",
        "",
        *bench_table("drift", results["drift"]),
        "",
        "## Data-quality summary (one frame, 25 columns)",
        "",
        "mlgate runs its registered data-quality check (`mlgate.bench_adapters.quality`): "
        "missing, mixed types, numbers in text, outliers (robust z / IQR, log scale for skewed "
        "columns), rare levels, spelling variants, constants, exact duplicate rows, and an "
        "isolation forest on up to 100k complete rows.",
        "",
        *bench_table("quality", results["quality"]),
        "",
        "## Files larger than memory (`mlgate.scale`, main venv, pandas 3)",
        "",
        "The harness's synthetic data written to disk in 1M-row pieces (20 numeric, 5 text "
        "columns; 6 shifted in current); each check in a fresh process. Peak RSS is "
        "`ru_maxrss` of that process, interpreter and libraries included.",
        "",
        *files_section(args.results),
        "",
        "## Machine and conditions",
        "",
        f"Versions reported by the workers: {versions(results)}.",
        "",
        "```",
        *stages,
        "```",
        "",
    ]
    notes = ""
    if args.out.exists() and NOTES_MARK in args.out.read_text():
        notes = args.out.read_text().split(NOTES_MARK, 1)[1]
    args.out.write_text("\n".join(text) + "\n" + NOTES_MARK + notes)
    sys.stdout.write(f"wrote {args.out}\n")


if __name__ == "__main__":
    main()
