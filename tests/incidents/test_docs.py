from pathlib import Path

from townsquare.incidents.detector import DetectorSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "incidents.md"


def test_every_detector_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in DetectorSettings.model_fields if f"| `{name}` |" not in text]
    assert missing == []
