"""Regenerate mypy's baseline: the app modules whose type errors are tolerated for now.

`make mypy-baseline` runs this. It runs mypy on the app code without the baseline, then
rewrites the block of `[[tool.mypy.overrides]]` between the two marker comments in
pyproject.toml: one `ignore_errors = true` entry naming every module that has errors today.
`make lint` runs mypy with that block, so any error in a module outside it fails the build.

The baseline only shrinks: a module that is not in the current block, or a total error
count above the recorded one, is refused. After code moves (a module renamed or split),
`make mypy-baseline ARGS=--allow-growth` accepts the new names once; say so in the commit.
"""

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
BEGIN = "# mypy-baseline: begin"
END = "# mypy-baseline: end"
ERROR_LINE = re.compile(r"^(?P<path>[^:\s]+\.py):\d+: error: ")
RECORDED_TOTAL = re.compile(r"^# (?P<errors>\d+) errors in (?P<modules>\d+) modules")


def split_pyproject(text: str) -> tuple[str, str, str]:
    """The text before the block, the block itself (markers included) and the text after."""
    start = text.find(BEGIN)
    end = text.find(END)
    if start < 0 or end < start:
        sys.exit(f"{PYPROJECT.name}: the markers {BEGIN!r} and {END!r} are missing")
    end = text.index("\n", end) + 1
    return text[:start], text[start:end], text[end:]


def module_of(path: str) -> str:
    dotted = path.removesuffix(".py").replace("/", ".")
    return dotted.removesuffix(".__init__")


def errors_by_module(pyproject_without_block: str) -> dict[str, int]:
    """Run mypy with the baseline removed; count the errors of each app module."""
    config = ROOT / "var" / "mypy-baseline.toml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(pyproject_without_block)
    files = tomllib.loads(pyproject_without_block)["tool"]["mypy"]["files"]
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--config-file", str(config)),
            *("--cache-dir", str(ROOT / "var" / "mypy_cache_baseline")),
            *files,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 1):
        sys.exit(f"mypy failed to run:\n{result.stdout}{result.stderr}")
    counts: dict[str, int] = {}
    for line in result.stdout.splitlines():
        match = ERROR_LINE.match(line)
        if match and not match["path"].startswith("/"):
            module = module_of(match["path"])
            counts[module] = counts.get(module, 0) + 1
    return counts


def render_block(counts: dict[str, int]) -> str:
    lines = [
        BEGIN + " (written by `make mypy-baseline`; do not edit by hand)",
        f"# {sum(counts.values())} errors in {len(counts)} modules are tolerated; the list"
        " only shrinks.",
    ]
    if counts:
        lines += ["[[tool.mypy.overrides]]", "module = ["]
        lines += [f'    "{module}",  # {counts[module]}' for module in sorted(counts)]
        lines += ["]", "ignore_errors = true"]
    lines.append(END)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--allow-growth",
        action="store_true",
        help="accept modules that are not in the current baseline (after code moved)",
    )
    options = parser.parse_args()

    before, block, after = split_pyproject(PYPROJECT.read_text())
    listed = set(re.findall(r'^\s+"([\w.]+)",', block, flags=re.MULTILINE))
    recorded = next(
        (RECORDED_TOTAL.match(line) for line in block.splitlines() if RECORDED_TOTAL.match(line)),
        None,
    )
    counts = errors_by_module(before + BEGIN + "\n" + END + "\n" + after)
    total = sum(counts.values())

    new_modules = sorted(set(counts) - listed)
    grew = recorded is not None and total > int(recorded["errors"])
    if (new_modules or grew) and not options.allow_growth:
        for module in new_modules:
            print(f"mypy-baseline: {module} has {counts[module]} errors and is not in the baseline")
        if grew:
            print(f"mypy-baseline: {total} errors, more than the {recorded['errors']} recorded")
        sys.exit("mypy-baseline: refused; fix the errors (or, after moving code, --allow-growth)")

    PYPROJECT.write_text(before + render_block(counts) + after)
    print(f"mypy-baseline: {total} errors in {len(counts)} modules")


if __name__ == "__main__":
    main()
