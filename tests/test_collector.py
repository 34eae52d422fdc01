"""pantheon/collector.py: with the young generation's threshold raised, a node-like churn of
short-lived objects takes far fewer collections, and what the process held when it was called is
frozen out of them (each case in a fresh interpreter, as the setting is process-wide)."""

from __future__ import annotations

from helpers.process import run_python

_CHURN = """
import gc
from pantheon.collector import YOUNG_THRESHOLD, collect_less_often
if {tune}:
    collect_less_often()
before = gc.get_stats()[0]["collections"]
kept = []
for round in range(200):  # objects made and dropped as a block's checks make them, a few kept
    made = [(index, [index], {{"index": index}}) for index in range(1_000)]
    kept.append(made[0])
print(gc.get_threshold()[0] == YOUNG_THRESHOLD, gc.get_freeze_count() > 0, gc.get_stats()[0]["collections"] - before)
"""


def test_young_collections_are_rarer_and_startup_objects_frozen() -> None:
    threshold, frozen, tuned = run_python(_CHURN.format(tune=True)).split()
    default_threshold, default_frozen, default = run_python(_CHURN.format(tune=False)).split()
    assert (threshold, frozen) == ("True", "True")
    assert (default_threshold, default_frozen) == ("False", "False")
    # 200 rounds of 3,000 containers, each round's freed by the next: CPython's 700 collects the
    # young generation a few hundred times (369 here); tuned, a handful at most.
    assert int(default) > 200
    assert int(tuned) <= int(default) // 50
