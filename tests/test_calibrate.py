"""eval/calibrate.py's signal selection (``--select``): out-of-fold AUC per group."""

from __future__ import annotations

import sys

import numpy as np

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "eval"))
import calibrate  # noqa: E402


def _rows(n: int = 120, seed: int = 0) -> list[dict]:
    """Two groups; ``good`` follows the label in both, ``noise`` does not; ``flip`` follows it
    in one group and goes against it in the other (a fit pooled over both learns nothing)."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in ("a", "b"):
        for _ in range(n):
            y = bool(rng.random() < 0.5)
            sign = 1.0 if g == "a" else -1.0
            rows.append({"group": g, "answerable": y, "good": float(y) + rng.normal(0, 0.7),
                         "noise": rng.normal(), "flip": sign * float(y) + rng.normal(0, 0.7)})  # fmt: skip
    return rows


def test_select_ranks_the_separating_signal_first_and_scores_out_of_fold():
    ranked = calibrate.select(_rows(), ["good", "noise", "flip"])
    per = dict(ranked)
    assert len(per) == 7  # every non-empty subset
    assert ranked[0][0] in {("good",), ("good", "noise"), ("good", "flip"), ("good", "noise", "flip")}
    assert all(v > 0.75 for v in per[("good",)].values())
    # Noise separates nothing.
    assert all(abs(v - 0.5) < 0.12 for v in per[("noise",)].values())
    # One weight for both groups: what helps one hurts the other.
    assert min(per[("flip",)].values()) < 0.5 < max(per[("flip",)].values())


def test_hand_veto_keeps_the_hand_path_only_where_the_reader_finds_an_answer():
    """Every row clears the hand-tuned threshold and the stack refuses them all: the veto on
    ``a_max`` that answers the answerable rows and no other is chosen."""
    rng = np.random.default_rng(0)
    rows = [{"group": "g", "answerable": y, "overlap": 0.5,
             "a_max": float(rng.uniform(0.77, 0.95) if y else rng.uniform(0.3, 0.58))}
            for y in [True, False] * 40]  # fmt: skip
    stack = {"bias": -5.0, "a_max": 0.0, "overlap": 0.0}
    veto, table = calibrate.hand_veto(rows, stack, ["a_max", "overlap"], 0.48)
    assert 0.6 <= veto <= 0.75 and table[veto] == (1.0, 0.0)
    assert table[1.01] == (0.0, 1.0)  # the stack alone refuses everything
    assert table[0.0] == (0.0, 0.0)  # no veto: everything answered
