"""The claims ledger: one JSON record per checked claim, written only for a named lesson outside dry runs, and the
``claims`` command that prints and writes the table."""

import json
from pathlib import Path

import pandas as pd
import pytest

from dlopt_kit.cli import claims as claims_cli
from dlopt_kit.cli import main as dlopt
from dlopt_kit.core import ledger
from dlopt_kit.core.claims import assert_gain, assert_not_worse, assert_paired, assert_peak_inside, assert_threshold
from dlopt_kit.core.dry_run import DRY_RUN_ENV


@pytest.fixture
def opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ledger.LEDGER_ENV, str(tmp_path))
    monkeypatch.delenv(DRY_RUN_ENV, raising=False)
    file = ledger.open_lesson("05_regularization", "small", "cpu (1 thread)")
    yield file
    ledger.close()


def records(file: Path) -> list[dict]:
    return [json.loads(line) for line in file.read_text().splitlines()]


def compare_table() -> pd.DataFrame:
    rows = []
    for config, base in (("none", 0.70), ("L2", 0.75), ("strong", 0.60)):
        for seed in (0, 1, 2):
            for epoch in (1, 2, 3, 4, 5):
                rows.append({"config": config, "seed": seed, "epoch": epoch, "best_epoch": 2, "val_loss": 1.0,
                             "test_acc": base + 0.01 * seed * (config == "L2"), "stop_reason": "completed"})
    return pd.DataFrame(rows)


def test_each_claim_appends_one_record_with_its_fields(opened: Path):
    assert opened.name == "05_regularization.jsonl" and opened.parent.name == "small"
    assert_gain(compare_table(), "L2", "none", margin=0.02)
    assert_not_worse({0: 0.80, 1: 0.81}, {0: 0.80, 1: 0.80}, tolerance=0.01, name="ni")
    assert_threshold({0: 0.2, 1: 0.4}, at_most=0.5, name="share")
    assert_peak_inside(compare_table(), "test_acc")
    gain, ni, threshold, peak = records(opened)
    assert gain["notebook"] == "05_regularization" and gain["kind"] == "gain" and gain["arms"] == ["L2", "none"]
    assert gain["values"]["L2"] == {"0": 0.75, "1": 0.76, "2": 0.77}
    assert gain["mean"] == pytest.approx(0.06) and gain["headroom"] == pytest.approx(3.0)
    assert gain["epochs"]["L2"]["kept"] == {"0": 2, "1": 2, "2": 2} and gain["epochs"]["L2"]["budget"]["0"] == 5
    assert gain["verdict"] == "holds" and {"budget", "device", "torch", "time", "interval"} <= gain.keys()
    assert ni["kind"] == "non-inferiority" and ni["tolerance"] == -0.01 and ni["epochs"] == "not given"
    assert ni["headroom"] == pytest.approx((0.005 + 0.01) / 0.01)
    assert threshold["kind"] == "threshold" and threshold["headroom"] == pytest.approx(0.2)
    assert peak["kind"] == "peak" and peak["peak"] == "L2" and peak["compared_with"] == "none"


def test_a_failing_claim_is_recorded_before_it_raises(opened: Path):
    with pytest.raises(AssertionError):
        assert_paired({0: 0.5, 1: 0.6}, {0: 0.55, 1: 0.5}, margin=0.1, name="thin")
    with pytest.raises(AssertionError, match="1 is past the limit"):
        assert_threshold({0: 0.2, 1: 0.7}, at_most=0.5, name="share")
    thin, share = records(opened)
    assert thin["verdict"].startswith("fails: the mean gain") and share["verdict"].startswith("fails")


def test_opening_a_lesson_again_empties_its_file(opened: Path):
    assert_threshold({0: 1.0}, at_least=0.5, name="x")
    ledger.open_lesson("05_regularization", "small", "cpu")
    assert opened.read_text() == ""


def test_nothing_is_written_without_a_lesson_or_in_a_dry_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ledger.LEDGER_ENV, str(tmp_path))
    ledger.close()
    assert_threshold({0: 1.0}, at_least=0.5, name="x")
    monkeypatch.setenv(DRY_RUN_ENV, "1")
    assert ledger.open_lesson("05_regularization", "small", "cpu") is None
    assert_threshold({0: 0.0}, at_least=0.5, name="x")
    assert list(tmp_path.rglob("*.jsonl")) == []


def test_a_bad_lesson_name_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"lesson='Lesson 5' is not allowed: .*'01_data_quality'"):
        ledger.open_lesson("Lesson 5", "small", "cpu")


def test_threshold_needs_one_limit_and_counts_a_missing_value_as_past_it():
    with pytest.raises(ValueError, match="exactly one of at_most= or at_least="):
        assert_threshold({0: 1.0}, at_most=1, at_least=0)
    with pytest.raises(AssertionError, match="b is past the limit"):
        assert_threshold({"a": 1.0, "b": float("nan")}, at_most=5)


def test_the_claims_command_prints_every_claim_with_its_flags(opened: Path, capsys: pytest.CaptureFixture):
    assert_gain(compare_table(), "L2", "none", margin=0.05)  # headroom 1.2: flagged
    assert_threshold({0: 0.1, 1: 0.1}, at_most=0.5, name="share")
    assert dlopt(["claims", "--ledger", str(opened.parents[1])]) == 0
    out = capsys.readouterr().out
    assert "| small | 05_regularization | test_acc, L2 over none | gain | +0.060 |" in out
    assert "headroom < 2" in out and "L2 2,2,2/5" in out and "2 claims from" in out


def test_a_name_with_a_pipe_keeps_the_table_one_row_per_claim(opened: Path, capsys: pytest.CaptureFixture):
    table = compare_table().replace({"config": {"L2": "L2 | lr 0.001"}})
    assert_gain(table, "L2 | lr 0.001", "none", margin=0.02)
    line = claims_cli.table(ledger.read(opened.parents[1])).splitlines()[-1]
    assert line.count("|") == 11 and "L2 / lr 0.001 2,2,2/5" in line


def test_the_claims_command_says_in_one_line_when_there_is_nothing(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert dlopt(["claims", "--ledger", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no claims recorded in") and "\n" not in err


def test_write_replaces_only_the_marked_section(opened: Path, tmp_path: Path):
    assert_threshold({0: 0.1, 1: 0.1}, at_most=0.5, name="share")
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Results\n\nbefore\n\n{claims_cli.BEGIN}\nOLD TABLE\n{claims_cli.END}\n\nafter\n")
    assert dlopt(["claims", "--ledger", str(opened.parents[1]), "--write", str(results)]) == 0
    text = results.read_text()
    assert "OLD TABLE" not in text and text.startswith("# Results\n\nbefore") and text.endswith("after\n")
    assert claims_cli.section(ledger.read(opened.parents[1])) in text


def test_results_agree_with_the_committed_ledgers():
    root = claims_cli.committed()
    records = ledger.read(root)
    assert {r["budget"] for r in records} >= {"small", "medium"}, "benchmarks/claims needs small and medium ledgers"
    lessons = {p.stem for p in (root / "small").glob("*.jsonl")}
    notebooks = {p.stem for p in (root.parents[1] / "notebooks").glob("*.ipynb")}
    assert lessons == notebooks, f"benchmarks/claims/small lacks {sorted(notebooks - lessons)}"
    results = (root.parent / "RESULTS.md").read_text()
    assert claims_cli.section(records) in results, (
        "benchmarks/RESULTS.md's claims section is out of date: run python -m dlopt_kit claims --write "
        "benchmarks/RESULTS.md")
