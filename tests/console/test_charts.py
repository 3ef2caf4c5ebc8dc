"""The console's bar charts: bars where their time is, and a y axis with round figures."""

from __future__ import annotations

from api.console.charts import LEFT, Bar, bars, nice_top


def test_a_quiet_stretch_is_a_gap() -> None:
    chart = bars([Bar("00", (3,), 0.0), Bar("01", (5,), 1.0), Bar("10", (4,), 10.0)], ("n",))
    x = [r["x"] for r in chart["rects"]]
    step = x[1] - x[0]
    assert abs((x[2] - x[1]) - 9 * step) < 0.5  # nine empty hours between them
    assert x[0] >= LEFT and x[2] + chart["rects"][2]["w"] <= chart["width"] + 0.5


def test_the_y_axis_has_round_figures() -> None:
    assert [nice_top(v) for v in (0, 1, 7, 10, 11, 180, 2001)] == [1, 1, 10, 10, 20, 200, 5000]
    chart = bars([Bar("a", (120, 30), 0.0)], ("ok", "failed"))
    assert [level["label"] for level in chart["levels"]] == ["0", "100", "200"]
    heights = sum(r["h"] for r in chart["rects"])
    assert abs(heights - 150 * (chart["height"] - 20) / 200) < 0.5


def test_a_mark_stands_where_its_value_is() -> None:
    chart = bars([Bar("0-14 d", (5,), 0.0)], ("events",), span=14, domain=(0.0, 200.0),
                 marks={"policy": 180.0})  # fmt: skip
    plot = chart["width"] - LEFT
    assert abs(chart["marks"]["policy"] - (LEFT + 0.9 * plot)) < 0.5
