#!/usr/bin/env python3
"""Coverage-guided fuzzing of the predictions reader: ``PredictionsAnalyzer`` on any bytes, then a run on it.

    python fuzz/predictions_jsonl.py CORPUS fuzz/seeds/predictions_jsonl -dict=fuzz/dicts/predictions.dict -max_len=8192

An input that names a probe (holds ``"probe"``) is read against a face-matching dataset (galleries
``g1.png``, ``g2.png``, probe ``p1.png``) and searched; any other against a gender dataset (``a.png``,
``b.png``) and analysed. Property: the file is refused with the kit's error and a message, or it loads and
then serves the whole run: one outcome per photo (per probe), no refusal after loading.
"""

from __future__ import annotations

import _harness  # first: instruments the kit

from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.dataset import Dataset, load_dataset
from conformance.run.matching import run_searches
from conformance.run.runner import analyze_dataset


def _datasets() -> dict[str, Dataset]:
    gender = _harness.folder(
        "gender",
        {
            "a.png": _harness.png((1, 2, 3)),
            "b.png": _harness.png((4, 5, 6)),
            "manifest.csv": b"photo,subject,gender_identity,trans\na.png,s1,woman,no\nb.png,s2,man,yes\n",
        },
    )
    matching = _harness.folder(
        "matching",
        {
            "g1.png": _harness.png((7, 8, 9)),
            "g2.png": _harness.png((10, 11, 12)),
            "p1.png": _harness.png((13, 14, 15)),
            "manifest.csv": b"photo,subject,role\ng1.png,s1,gallery\ng2.png,s2,gallery\np1.png,s1,probe\n",
        },
    )
    return {"gender": load_dataset(gender / "manifest.csv"), "matching": load_dataset(matching / "manifest.csv")}


DATASETS = _datasets()
OUTCOMES = {"analysed", "no_face", "error"}


def TestOneInput(data: bytes) -> None:
    dataset = DATASETS["matching" if b'"probe"' in data else "gender"]
    path = _harness.SCRATCH / "predictions.jsonl"
    path.write_bytes(data)
    analyzer = _harness.outcome(lambda: PredictionsAnalyzer(path, dataset=dataset))
    if analyzer is None:
        return
    if dataset.is_matching:
        # As the session does: the file's search threshold, else a floor below the thresholds judged.
        floor = float(analyzer.search_floor or 50.0)
        searches = _harness.outcome(lambda: run_searches(analyzer, dataset, floor=floor), refusal=False)
        assert searches is not None
        assert [r.probe for r in searches.records] == [p.id for p in dataset.role("probe")]
        assert {r.outcome for r in searches.records} <= OUTCOMES
        return
    observations = _harness.outcome(lambda: analyze_dataset(analyzer, dataset), refusal=False)
    assert observations is not None
    assert [o.photo for o in observations.records] == [p.id for p in dataset]
    assert {o.outcome for o in observations.records} <= OUTCOMES


if __name__ == "__main__":
    _harness.main(TestOneInput)
