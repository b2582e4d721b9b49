"""The class study from the notebook side, on a real PostgreSQL server: the tuning panel's "join class study" box
and the leaderboard panel, driven as a learner would (values set, buttons clicked)."""

from __future__ import annotations

import time
import uuid

import pytest

from dlopt_kit.classroom.study import connect, create_shared, join, study_names
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import load_splits
from dlopt_kit.panels import LeaderboardPanel, TuningPanel

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


@pytest.fixture(scope="module")
def budget_data():
    """The `small` budget's data: what a class study at the small budget trains on."""
    return load_splits("fashion_mnist", train_per_class=300, eval_per_class=200)


def wait_until(condition, timeout: float = 60) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_join_adds_named_trials_and_names_are_escaped(pg_server, budget_data, tiny):
    name = f"class-{uuid.uuid4().hex[:6]}"
    create_shared(connect(pg_server.url()), name, method="random", pruner="none")
    panel = TuningPanel(budget_data, RunConfig(model="mlp"), storage="memory")
    table = panel.run(join=True, class_url=pg_server.url(), your_name="<b>Ada</b>", class_study=name, trials=2)
    assert table is not None and len(table) == 2 and set(table["name"]) == {"<b>Ada</b>"}
    assert "&lt;b&gt;Ada&lt;/b&gt;" in panel.table.value and "<b>Ada</b>" not in panel.table.value
    assert "2 trial(s) finished (2 run now)" in panel.status.value
    before = panel.table.value
    wrong = pg_server.url().replace(pg_server._secrets()["student"], "nope")
    assert panel.run(class_url=wrong, trials=1) is None
    assert "wrong password" in panel.status.value and "nope" not in panel.status.value
    assert panel.table.value == before
    other = TuningPanel(tiny, RunConfig(model="mlp"), storage="memory")  # another budget's data: refused
    assert other.run(join=True, class_url=pg_server.url(), class_study=name, trials=1) is None
    assert "restart the notebook with DLOPT_BUDGET=small" in other.status.value
    assert len(join(connect(pg_server.url()), name).trials) == 2


def test_leaderboard_refreshes_live_escapes_names_and_refuses_bad_values(pg_server, budget_data):
    url, name = pg_server.url(), f"class-{uuid.uuid4().hex[:6]}"
    create_shared(connect(url), name, method="random", pruner="none")
    learner = TuningPanel(budget_data, RunConfig(model="mlp"), storage="memory")
    learner.run(join=True, class_url=url, your_name="<script>x</script>", class_study=name, trials=1)
    board = LeaderboardPanel(name, url=url, every=1)
    shown = board.run()
    assert list(shown["name"]) == ["<script>x</script>"] and shown["finished"].iloc[0] == 1
    assert "&lt;script&gt;" in board.table.value and "<script>" not in board.table.value + board.progress.value
    assert "1 trials finished" in board.progress.value and board.running
    learner.run(your_name="Grace", trials=1)  # another learner's trial appears without a click
    assert wait_until(lambda: "Grace" in board.table.value, 30)
    board.stop_button.click()
    assert not board.running and "Stopped watching" in board.status.value
    kept = board.table.value
    assert board.run(every=0) is None and "every=0" in board.status.value and "1 to 3600" in board.status.value
    assert board.run(every=2, study="no-such-study") is None and "does not exist" in board.status.value
    assert board.table.value == kept and not board.running
    assert "no-such-study" not in study_names(connect(url))
