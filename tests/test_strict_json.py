"""Every JSON file jepaworld writes is standard JSON: a missing figure is null, never NaN or Infinity."""

import json
import math

import numpy as np
import pytest

from jepaworld.config import json_text, strict_json, write_json
from tests.strict_json import load_strict, loads_strict


def test_non_finite_figures_are_written_as_null():
    value = {"nan": float("nan"), "inf": math.inf, "-inf": -math.inf, "ok": 1.5, "n": 3, "flag": True, "none": None,
             "f32": np.float32("nan"), "i64": np.int64(7), "arr": np.array([1.0, np.nan, np.inf]),
             "nested": [{"x": (float("nan"), 2.0)}], "text": "NaN"}  # fmt: skip
    text = json_text(value, indent=2)
    assert "NaN" not in text.replace('"NaN"', "") and "Infinity" not in text
    back = loads_strict(text)
    assert back == {"nan": None, "inf": None, "-inf": None, "ok": 1.5, "n": 3, "flag": True, "none": None,
                    "f32": None, "i64": 7, "arr": [1.0, None, None], "nested": [{"x": [None, 2.0]}],
                    "text": "NaN"}  # fmt: skip
    assert strict_json(np.float64(2.5)) == 2.5 and isinstance(strict_json(np.float32(0.5)), float)


def test_write_json_is_strict_and_the_strict_reader_refuses_bare_nan(tmp_path):
    write_json(tmp_path / "r.json", {"mean_steps_to_recover": float("nan")})
    assert load_strict(tmp_path / "r.json") == {"mean_steps_to_recover": None}
    (tmp_path / "old.json").write_text(json.dumps({"mean_steps_to_recover": float("nan")}))
    with pytest.raises(AssertionError, match="NaN"):
        load_strict(tmp_path / "old.json")
