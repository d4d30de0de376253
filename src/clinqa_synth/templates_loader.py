"""Reading the Markdown/Jinja templates shipped inside the package."""

from importlib import resources


def load_template(name: str) -> str:
    return (resources.files("clinqa_synth") / "templates" / name).read_text(encoding="utf-8")
