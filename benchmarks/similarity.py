"""Similarity across a cohort: time to fingerprint and compare N generated submissions (default 300).

    python -m benchmarks.similarity [--submissions 300] [--seed 7]

Each submission is a few modules of generated Python (random statements, nesting and names); one in ten is a
copy of another with every identifier renamed and its functions reordered. Prints the time of each phase and
how many copies were flagged; no timed assertion (docs/performance.md records the measurement).
"""

from __future__ import annotations

import argparse
import keyword
import random
import re
import tempfile
import time
from pathlib import Path

from grader.models import SimilaritySettings
from grader.similarity.compare import Entry, compare
from grader.similarity.store import compute_prints

OPERATORS = ("+", "-", "*", "//", "%", "<", ">=", "==", "and", "or")


def _name(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))


def _expression(rng: random.Random, depth: int = 0) -> str:
    """A random expression: names, literals, calls, subscripts, attributes and operators, nested."""
    roll = rng.random() if depth < 3 else 0.0
    if roll < 0.3:
        return rng.choice([_name(rng), str(rng.randint(0, 99)), f"'{_name(rng)}'"])
    if roll < 0.55:
        return f"{_expression(rng, depth + 1)} {rng.choice(OPERATORS)} {_expression(rng, depth + 1)}"
    if roll < 0.75:
        args = ", ".join(_expression(rng, depth + 1) for _ in range(rng.randint(0, 3)))
        return f"{_name(rng)}({args})"
    if roll < 0.9:
        return f"{_name(rng)}[{_expression(rng, depth + 1)}]"
    return f"{_name(rng)}.{_name(rng)}"


def _statement(rng: random.Random, depth: int = 1) -> list[str]:
    """A random statement as indented lines: an assignment, a call, or an if/for/while with a block."""
    pad = "    " * depth
    roll = rng.random() if depth < 3 else 0.0
    if roll < 0.5:
        return [f"{pad}{_name(rng)} = {_expression(rng)}"]
    if roll < 0.6:
        return [f"{pad}{_expression(rng)}"]
    head = rng.choice([f"if {_expression(rng)}:", f"for {_name(rng)} in {_expression(rng)}:",
                       f"while {_expression(rng)}:"])
    body = [line for _ in range(rng.randint(1, 3)) for line in _statement(rng, depth + 1)]
    return [f"{pad}{head}", *body]


def _function(rng: random.Random) -> str:
    body = [line for _ in range(rng.randint(4, 10)) for line in _statement(rng)]
    return "\n".join([f"def {_name(rng)}({_name(rng)}, {_name(rng)}):", *body, f"    return {_name(rng)}"]) + "\n"


def _module(rng: random.Random) -> list[str]:
    return [_function(rng) for _ in range(rng.randint(6, 14))]


def _renamed(functions: list[str], rng: random.Random) -> list[str]:
    """The same code with every identifier renamed (consistently) and the functions reordered."""
    mapping: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        word = match.group(0)
        if keyword.iskeyword(word):
            return word
        return mapping.setdefault(word, f"{_name(rng)}_{len(mapping)}")

    renamed = [re.sub(r"(?<!['\w])[A-Za-z_]\w*", rename, function) for function in functions]
    rng.shuffle(renamed)
    return renamed


def generate(root: Path, count: int, seed: int) -> list[tuple[str, str]]:
    """Write `count` submissions under `root`; returns the (original, copy) pairs planted."""
    rng = random.Random(seed)
    planted: list[tuple[str, str]] = []
    modules: dict[str, list[list[str]]] = {}
    for number in range(count):
        name = f"s{number:03d}"
        if number % 10 == 9:
            source = f"s{number - 1 - rng.randint(0, 7):03d}"
            modules[name] = [_renamed(functions, rng) for functions in modules[source]]
            planted.append((source, name))
        else:
            modules[name] = [_module(rng) for _ in range(rng.randint(2, 4))]
        for index, functions in enumerate(modules[name]):
            path = root / name / f"module_{index}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n\n".join(functions))
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    settings = SimilaritySettings()  # type: ignore[call-arg]
    with tempfile.TemporaryDirectory(prefix="grader-similarity-") as work:
        root = Path(work)
        planted = generate(root, args.submissions, args.seed)
        lines = sum(len(p.read_text().splitlines()) for p in root.rglob("*.py"))
        started = time.perf_counter()
        entries = [Entry(d.name, compute_prints(d, settings.k, settings.window)) for d in sorted(root.iterdir())]
        fingerprinted = time.perf_counter()
        comparison = compare(entries, settings)
        compared = time.perf_counter()
    flagged = {(pair.a, pair.b) for pair in comparison.flagged()}
    found = sum(1 for pair in planted if tuple(sorted(pair)) in flagged)
    print(f"{args.submissions} submissions, {lines} lines, {sum(e.prints.count() for e in entries)} fingerprints")
    print(f"fingerprinting (done once per submission at intake): {fingerprinted - started:.2f} s")
    print(f"comparison through the index: {compared - fingerprinted:.2f} s")
    print(f"pairs sharing code: {len(comparison.pairs)}; flagged: {len(flagged)}; planted copies flagged: "
          f"{found} of {len(planted)}")


if __name__ == "__main__":
    main()
