"""The repository stands alone: generated data and run history are never committed, and
nothing it holds points outside it."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).parent.parent
GENERATED = ("data/", "dagster_home/", ".tmp_dagster_home_", "bench/results/", ".venv/")


def _git(*args: str) -> list[str]:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_no_tracked_file_is_one_git_ignores():
    assert _git("ls-files", "--cached", "--ignored", "--exclude-standard") == []


def test_no_generated_data_or_run_history_is_tracked():
    tracked = [p for p in _git("ls-files") if p.startswith(GENERATED)]
    assert tracked == ["dagster_home/dagster.yaml"]  # the instance's settings, not its history


def test_what_the_demo_and_dagster_write_is_ignored():
    probes = ["data/lake/llm_calls/_delta_log/0.json", "data/reports/retention/x.html",
              "dagster_home/history/runs.db", "dagster_home/storage/x", ".tmp_dagster_home_ab12/history/runs.db",
              "bench/results/latest.md", "bench/results/performance.png"]
    assert sorted(_git("check-ignore", "--no-index", *probes)) == sorted(probes)


def test_nothing_in_the_repository_points_outside_it():
    """A user who clones the repository has no folder beside it: the contract and the
    reference notes live in docs/, and code, docs, reports and fixtures cite those."""
    beside = "../" + "shared"  # spelled in two parts so this file does not match itself
    outside = [path for path in _git("ls-files")
               if (ROOT / path).is_file() and beside in (ROOT / path).read_text(errors="replace")]
    assert outside == []


PRIVATE_DAGSTER_ALLOWED = {
    "tests/k8s_jobs.py": "launches every step through the k8s executor's step handler without a "
                         "cluster, as dagster-k8s's own tests do: no public API does that",
}


def test_no_project_module_imports_dagsters_private_modules():
    private = "dagster" + "._"  # spelled in two parts so this file does not match itself
    offenders = [path for path in _git("ls-files", "*.py") if path not in PRIVATE_DAGSTER_ALLOWED
                 if any(line.lstrip().startswith(("from " + private, "import " + private))
                        for line in (ROOT / path).read_text().splitlines())]
    assert offenders == []
