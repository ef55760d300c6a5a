"""Chapter 6's figures: a schematic training run with its safety nets, and several runs' loss
curves on one axis."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest

from course_lib import viz
from course_lib.viz.training import TIMELINE_VAL_LOSS

RUNS = {
    "no dropout": {"loss": [3.0, 2.0, 1.4, 1.0, 0.8, 0.6],
                   "val_loss": [3.1, 2.3, 1.8, 1.9, 2.0, 2.1]},
    "dropout 0.5": {"loss": [3.4, 2.5, 1.9, 1.6, 1.4, 1.3, 1.2, 1.1],
                    "val_loss": [3.2, 2.4, 1.8, 1.6, 1.5, 1.55, 1.6, 1.62]},
}  # fmt: skip

#: Typical calls of this module's figure functions (collected by tests/test_viz.py).
FIGURES = {
    "draw_training_timeline": lambda: viz.draw_training_timeline(),
    "plot_runs": lambda: viz.plot_runs(RUNS, title="20 training images, with and without dropout"),
}


def test_the_timeline_stops_patience_epochs_after_the_best():
    best = TIMELINE_VAL_LOSS.index(min(TIMELINE_VAL_LOSS)) + 1
    for patience in (1, 2, 3):
        texts = [t.get_text() for t in viz.draw_training_timeline(patience=patience).axes[0].texts]
        epochs = [t for t in texts if t.startswith("epoch ")]
        assert len(epochs) == best + patience
        assert any(f"patience = {patience} epochs" in t and f"epoch {best}" in t for t in texts)
    early = viz.draw_training_timeline(disconnect_at=2).axes[0].texts
    assert any("during epoch 2" in t.get_text() for t in early)
    with pytest.raises(ValueError, match="patience"):
        viz.draw_training_timeline(patience=len(TIMELINE_VAL_LOSS))


def test_runs_two_curves_each_and_a_star_at_each_best_epoch():
    fig = viz.plot_runs(RUNS, ylim=(0, 3))
    ax = fig.axes[0]
    curves = [line for line in ax.lines if line.get_label().startswith(tuple(RUNS))]
    assert [line.get_label() for line in curves] == [
        "no dropout: train", "no dropout: validation", "dropout 0.5: train",
        "dropout 0.5: validation",
    ]  # fmt: skip
    stars = [line for line in ax.lines if line.get_marker() == "*"]
    assert [(s.get_xdata()[0], s.get_ydata()[0]) for s in stars] == [(3, 1.8), (5, 1.5)]
    assert ax.get_ylim() == (0, 3)
    with pytest.raises(ValueError, match="no 'val_loss'"):
        viz.plot_runs({"x": {"loss": [1.0]}})
    with pytest.raises(ValueError, match="no runs"):
        viz.plot_runs({})
