"""Make the report screenshots in docs/images/ from fresh runs, never by hand.

    python scripts/screenshots.py                 # all three
    python scripts/screenshots.py --only demo     # one of: demo, astronaut, embeddings

Each run's report.html is opened in headless Chromium (``chromium`` on the PATH, or ``--browser``) at
1200 px wide and its top written as PNG:

- ``report-demo.png``: ``conformance run``, the shipped gender demo (simulated output, emulated API);
- ``report-astronaut.png``: ``conformance run --analyzer local --dataset fixtures/astronaut/manifest.csv``
  (the offline model of the ``local`` extra on the real-photo fixture);
- ``report-embeddings.png``: model A's report of the how-to's two-model audit (scripts/two_model_audit.py).

The pages load nothing from anywhere, so the screenshots depend only on the runs and the browser.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "docs" / "images"
# name: the page's height in pixels (report_of says how its report.html is made)
SHOTS = {
    "demo": 2400,
    "astronaut": 2400,
    "embeddings": 2890,
}


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    # conformance run exits 1 when a check fails: that is a report too. 2 and up: nothing to show.
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-3000:]}")


def report_of(name: str, work: Path) -> Path:
    """Run what makes ``name``'s report in ``work`` and return its report.html."""
    conformance = [sys.executable, "-m", "conformance"]
    if name == "demo":
        _run([*conformance, "run", "--report-dir", "demo"], work)
        return work / "demo" / "report.html"
    if name == "astronaut":
        manifest = REPO / "fixtures" / "astronaut" / "manifest.csv"
        _run([*conformance, "run", "--analyzer", "local", "--dataset", str(manifest), "--report-dir", "astro"], work)
        return work / "astro" / "report.html"
    _run([sys.executable, str(REPO / "scripts" / "two_model_audit.py"), "--keep", str(work / "two")], work)
    return work / "two" / "audit" / "model_a" / "report.html"


def shoot(browser: str, page: Path, target: Path, height: int) -> None:
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size=1200,{height}",
            f"--screenshot={target}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SHOTS), action="append", help="make only this one (repeatable)")
    parser.add_argument("--browser", default=shutil.which("chromium") or "chromium", help="a Chromium executable")
    args = parser.parse_args(argv)
    for name in args.only or list(SHOTS):
        with tempfile.TemporaryDirectory() as folder:
            page = report_of(name, Path(folder))
            target = IMAGES / f"report-{name}.png"
            shoot(args.browser, page, target, SHOTS[name])
            print(f"{target.relative_to(REPO)}: {page.name} of a fresh run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
