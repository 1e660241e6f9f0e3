"""history.csv round trip, which epoch best.pt holds, and curves.png for one run or several."""

from __future__ import annotations

import pytest

from twostream.streams.history import best_epoch, plot_curves, read_history, selection_key, write_history


def _rows(val_acc, val_loss=None):
    val_loss = val_loss or [1.0] * len(val_acc)
    return [{"epoch": i + 1, "lr": 0.001, "train_loss": 2.0 - i * 0.1, "train_acc": 0.1 * i, "val_loss": vl,
             "val_acc": va, "clips_per_s": 10.0, "seconds": 1.0} for i, (va, vl) in enumerate(zip(val_acc, val_loss))]


@pytest.mark.parametrize("val_acc,val_loss,best", [
    ([0.2, 0.5, 0.4], None, 2),  # highest validation accuracy
    ([0.5, 0.5, 0.5], [0.9, 0.7, 0.8], 2),  # ties broken by the lower validation loss
    ([0.5, 0.5], [0.7, 0.7], 1),  # a full tie keeps the first, as the loop does (it needs a strict improvement)
])
def test_best_epoch_follows_the_loops_selection(val_acc, val_loss, best):
    assert best_epoch(_rows(val_acc, val_loss)) == best


def test_without_validation_the_training_scores_select():
    rows = [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.6}, {"epoch": 2, "train_loss": 0.5, "train_acc": 0.4}]
    assert selection_key(rows[0]) == (0.6, -1.0) and best_epoch(rows) == 1 and best_epoch([]) == 0


def test_history_round_trip_and_curves_of_one_and_of_several_runs(tmp_path):
    rows = _rows([0.2, 0.5, 0.4])
    write_history(tmp_path / "history.csv", rows)
    back = read_history(tmp_path / "history.csv")
    assert back == rows and isinstance(back[0]["epoch"], int)
    no_val = [{"epoch": 1, "lr": 0.1, "train_loss": 1.0, "train_acc": 0.5}]
    for runs in ({"cnn_lstm": back}, {"a": back, "b (no validation)": no_val}):
        path = plot_curves(runs, tmp_path / "curves.png", title="t")
        assert path.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png", "history.csv"]  # no temporary file left
