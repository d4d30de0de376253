"""The one terminal console (stderr, so stdout stays clean for data and JSON), shared by the CLI and progress bars.

Its own module so the library can print progress without importing the CLI (which imports the library).
"""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=True)
