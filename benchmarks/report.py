#!/usr/bin/env python3
"""Write benchmarks/RESULTS.md from the JSON results of run_peers.sh and run_serving.sh.

Reads ``drift-<rows>.json`` and ``quality-<rows>.json`` (written by the shared harness's
``drift_bench.py`` / ``quality_bench.py``), ``files-<format>-<rows>.json`` (written by
``big_files.py``), ``serve.json`` (``serve_bench.py``, written by ``run_serving.sh``) and the
run log, and writes medians, spreads, peak memory and ratios:

- each peer against mlgate (``product``): ratio of medians, and the median over rounds of the
  ratio within a round (every tool ran once per round, back to back, in rotating order);
- mlgate against the plain baselines, the same two ways.

Usage: python benchmarks/report.py RESULTS_DIR OUT.md [--command CMD] [--log run.log]
       python benchmarks/report.py RESULTS_DIR OUT.md --serving-only   (the serving section)

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
SERVERS = {"product": "**mlgate**", "mlflow": "MLflow", "baseline": "bare Starlette"}
GOAL_SERVE_OVER_MLFLOW = 10.0
GOAL_SERVE_UNDER_BARE = 1.5
GOAL_SERVE_P99_MS = 25.0
GOAL_SERVE_CASE = (16, 1)  # concurrency, rows per request


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


def load_serving(folder: Path) -> dict[str, Any] | None:
    """Return the serving benchmark's JSON (``serve.json``), or None when it was not run."""
    path = folder / "serve.json"
    return json.loads(path.read_text()) if path.exists() else None


def _serve_runs(payload: dict[str, Any], server: str, conc: int, batch: int) -> list[dict]:
    return [
        r
        for r in payload["runs"]
        if r["server"] == server and r["conc"] == conc and r["batch"] == batch and r.get("rps")
    ]


def _serve_median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def _serve_paired(top: list[dict[str, Any]], bottom: list[dict[str, Any]]) -> float | None:
    """Return the median over rounds of top's req/s divided by bottom's in the same round."""
    by_round = {r["round"]: r["rps"] for r in bottom}
    ratios = [r["rps"] / by_round[r["round"]] for r in top if r["round"] in by_round]
    return statistics.median(ratios) if ratios else None


def _serve_ratio(top: list[dict[str, Any]], bottom: list[dict[str, Any]]) -> str:
    medians = _serve_median(top, "rps"), _serve_median(bottom, "rps")
    paired = _serve_paired(top, bottom)
    if None in medians or paired is None:
        return "—"
    return f"{medians[0] / medians[1]:.2f}x ({paired:.2f}x)"


def serving_table(payload: dict[str, Any]) -> list[str]:
    """Return the serving table: each server, concurrency and request size, with ratios."""
    header = [
        "server",
        "concurrency",
        "rows/request",
        "median req/s (min–max)",
        "p50 ms",
        "p99 ms",
        "server CPU ms/req",
        "mlgate / MLflow req/s",
        "bare / mlgate req/s",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    cases = sorted({(r["conc"], r["batch"]) for r in payload["runs"]})
    for conc, batch in cases:
        product = _serve_runs(payload, "product", conc, batch)
        for server, label in SERVERS.items():
            runs = _serve_runs(payload, server, conc, batch)
            if not runs:
                continue
            rps = [r["rps"] for r in runs]
            cells = [
                label,
                str(conc),
                str(batch),
                f"{_serve_median(runs, 'rps'):,.0f} ({min(rps):,.0f}–{max(rps):,.0f})",
                f"{_serve_median(runs, 'p50_ms'):.2f}",
                f"{_serve_median(runs, 'p99_ms'):.2f}",
                f"{_serve_median(runs, 'cpu_ms_per_req'):.3f}",
                _serve_ratio(product, runs) if server == "mlflow" else "",
                _serve_ratio(runs, product) if server == "baseline" else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def serving_goals(payload: dict[str, Any]) -> list[str]:
    """Return the serving goal (one-row requests at concurrency 16), met or missed."""
    conc, batch = GOAL_SERVE_CASE
    product = _serve_runs(payload, "product", conc, batch)
    mlflow = _serve_runs(payload, "mlflow", conc, batch)
    bare = _serve_runs(payload, "baseline", conc, batch)
    if not (product and mlflow and bare):
        return [f"- Serving: no complete run at concurrency {conc}, {batch} row(s) per request."]

    over = _serve_median(product, "rps") / _serve_median(mlflow, "rps")
    under = _serve_median(bare, "rps") / _serve_median(product, "rps")
    p99 = _serve_median(product, "p99_ms")
    met = [
        over >= GOAL_SERVE_OVER_MLFLOW,
        under <= GOAL_SERVE_UNDER_BARE,
        p99 is not None and p99 < GOAL_SERVE_P99_MS,
    ]
    verdicts = ["met" if ok else "MISSED" for ok in met]
    return [
        f"- Serving, {batch} row per request at concurrency {conc}: mlgate answers "
        f"**{over:.1f}x** MLflow's requests per second (paired "
        f"{_serve_paired(product, mlflow):.1f}x; goal >= {GOAL_SERVE_OVER_MLFLOW:g}x): "
        f"**{verdicts[0]}**; the bare app answers **{under:.2f}x** mlgate's (paired "
        f"{_serve_paired(bare, product):.2f}x; goal <= {GOAL_SERVE_UNDER_BARE:g}x): "
        f"**{verdicts[1]}**; mlgate's p99 is **{p99:.1f} ms** (goal < "
        f"{GOAL_SERVE_P99_MS:g} ms): **{verdicts[2]}**."
    ]


def serving_section(payload: dict[str, Any], command: str) -> list[str]:
    """Return the serving section: how it was run, the goal lines and the table."""
    meta = payload["meta"]
    args = meta.get("args", {})
    loads = sorted(float(r["loadavg"].split()[0]) for r in payload["runs"] if r.get("loadavg"))
    wrk = " ".join(meta.get("wrk", [])).split(" Copyright")[0]
    same = ", ".join(
        f"{SERVERS.get(n, n).strip('*')} {meta.get(f'{n}_same_proba')}" for n in SERVERS
    )
    versions = ", ".join(f"{k} {v}" for k, v in sorted(meta.get("versions", {}).items()) if v)
    return [
        "## Serving (`serve_bench.py`: one GradientBoostingClassifier over REST, loopback)",
        "",
        f"Command: `{command}`. {wrk}; "
        f"{args.get('rounds')} rounds of {args.get('duration')} s per server and case, "
        "servers in rotating order. mlgate runs `mlgate serve --predictions proba` on a governed "
        "low-tier workspace (`mlgate.bench_serve`), with signature validation and the "
        "prediction log on; MLflow and the bare app run with uvicorn's defaults (access log on). "
        "Ratios: ratio of medians (median of the per-round ratios).",
        "",
        *serving_goals(payload),
        "",
        *serving_table(payload),
        "",
        f"Same probabilities as a local `predict_proba`: {same}. 1-minute load average during "
        f"the runs (the servers and wrk themselves keep both cores busy): "
        f"{loads[0] if loads else '?'} to {loads[-1] if loads else '?'}. Harness "
        f"versions: {versions}.",
        "",
    ]


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
    parser.add_argument(
        "--serving-only", action="store_true", help="write only the serving section to OUT"
    )
    args = parser.parse_args()

    serving = load_serving(args.results)
    if args.serving_only:
        if serving is None:
            raise SystemExit(f"no serve.json in {args.results}; run benchmarks/run_serving.sh")
        args.out.write_text("\n".join(serving_section(serving, args.command)))
        sys.stdout.write(f"wrote {args.out}\n")
        return

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
        *(serving_goals(serving) if serving else []),
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
        *(serving_section(serving, "bash benchmarks/run_serving.sh") if serving else []),
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
