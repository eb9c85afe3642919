"""g2rl.predict.inputs: INPUT paths -> units (natural order, grouping, failures)."""

from pathlib import Path

from g2rl.media import folder_images
from g2rl.predict.inputs import plan_units


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folder_in_natural_numeric_order(tmp_path):
    for name in ("10.png", "9.png", "100.jpg", "notes.txt", "1.PNG"):
        _touch(tmp_path / "seq" / name)
    assert [p.name for p in folder_images(tmp_path / "seq")] == ["1.PNG", "9.png", "10.png", "100.jpg"]


def test_units_and_failures_in_command_line_order(tmp_path):
    video = _touch(tmp_path / "a.mp4")
    img1, img2 = _touch(tmp_path / "p1.jpg"), _touch(tmp_path / "p2.png")
    _touch(tmp_path / "frames" / "2.png")
    _touch(tmp_path / "frames" / "11.png")
    (tmp_path / "empty").mkdir()
    text = _touch(tmp_path / "readme.txt")
    inputs = [img1, img2, video, tmp_path / "frames", tmp_path / "missing.avi", text, tmp_path / "empty"]

    units, failures = plan_units(inputs)
    assert [(u.kind, u.name) for u in units] == [("photos", "images"), ("video", "a"), ("photos", "frames")]
    assert units[0].files == (img1, img2)  # consecutive loose images form one batchable unit
    assert [p.name for p in units[2].files] == ["2.png", "11.png"]
    assert [Path(p).name for p, _ in failures] == ["missing.avi", "readme.txt", "empty"]
    assert "no such file" in failures[0][1] and "not a video" in failures[1][1] and "no image files" in failures[2][1]

    units, _ = plan_units([tmp_path / "frames"], sequence=True)
    assert units[0].kind == "sequence"
