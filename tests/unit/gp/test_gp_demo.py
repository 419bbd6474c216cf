"""The offline engine demo (``python -m gpsteer.demo --offline``) runs end to end and writes a
readable PNG."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from gpsteer import demo


def test_demo_writes_a_png_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "nested" / "out"
    assert demo.main(["--offline", "--out", out, "--n", "50", "--grid", "12", "--starts", "1"]) == 0
    png = out / "gp_demo.png"
    with Image.open(png) as img:
        img.verify()
    with Image.open(png) as img:
        assert img.format == "PNG"
        width, height = img.size
    assert width > 600 and height > 400
    text = capsys.readouterr().out
    assert "50 noisy samples" in text and "training time" in text and str(png) in text
    # the GP learned the field: held-out error well below the field's spread
    share = float(re.search(r"held-out RMSE\s+\S+\s+\(([\d.]+)% of the field", text).group(1))
    assert 0 < share < 50


def test_demo_rejects_too_few_points(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        demo.main(["--offline", "--out", tmp_path, "--n", "2"])
    assert info.value.code == 2
    assert "--n must be at least 5; got 2" in capsys.readouterr().err
