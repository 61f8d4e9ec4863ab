"""Write the 1,000 ImageNet class names to ``cnnviz_widget/assets/imagenet_classes.txt``.

Offline: the names are read from the installed torchvision wheel's
``torchvision/models/_meta.py`` (``_IMAGENET_CATEGORIES``), parsed as text with :mod:`ast`.
torchvision is never imported (its import needs a matching torch and is not required to
read a list literal).  One name per line, in class-index order (0 = "tench",
281 = "tabby", 285 = "Egyptian cat", ...).  Run from the repository root::

    python scripts/make_imagenet_classes.py                 # finds torchvision's _meta.py
    python scripts/make_imagenet_classes.py --meta PATH     # or reads the given file
    python scripts/make_imagenet_classes.py --check         # exit 1 if the file is stale
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "cnnviz_widget" / "assets" / "imagenet_classes.txt"
VARIABLE = "_IMAGENET_CATEGORIES"


def find_meta() -> Path:
    """Path of ``torchvision/models/_meta.py`` in the current environment, without import."""
    spec = importlib.util.find_spec("torchvision")  # locates the package, runs no code
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("torchvision is not installed here; pass --meta PATH/_meta.py")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "models" / "_meta.py"
        if path.is_file():
            return path
    raise SystemExit("torchvision/models/_meta.py not found; pass --meta PATH/_meta.py")


def read_names(meta: Path) -> list[str]:
    """The ``_IMAGENET_CATEGORIES`` list literal of ``meta``, evaluated safely."""
    tree = ast.parse(meta.read_text(encoding="utf-8"), filename=str(meta))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == VARIABLE for t in node.targets
        ):
            names = ast.literal_eval(node.value)
            break
    else:
        raise SystemExit(f"{VARIABLE} not found in {meta}")
    if len(names) != 1000 or not all(isinstance(n, str) and n and "\n" not in n for n in names):
        raise SystemExit(f"{VARIABLE} in {meta} is not 1,000 one-line names")
    if names[0] != "tench" or names[285] != "Egyptian cat":
        raise SystemExit(f"{VARIABLE} in {meta} is not in the standard index order")
    return list(names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta", type=Path, help="torchvision/models/_meta.py to read")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output file (default {OUT})")
    parser.add_argument("--check", action="store_true", help="only check the file is current")
    args = parser.parse_args(argv)

    names = read_names(args.meta or find_meta())
    text = "\n".join(names) + "\n"
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
        if current != text:
            print(f"{args.out} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{args.out} is current ({len(names)} names)")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {len(names)} names to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
