#!/usr/bin/python3
"""Layer check over every #include "..." line in trainer/, sweep/, tests/ and bench/.

The layer order (LAYERS below, the one place it is written) is:
    trainer/core -> trainer/data, trainer/backend -> trainer/model -> trainer/train -> trainer/cli, sweep
A file may include headers of its own folder and of layers on a lower level only: layers on
one level are siblings and include neither each other (data and backend; the two programs,
trainer/cli and sweep). tests/ and bench/ may include anything.

Also reports include circles within a folder: modules (a.c, a.h, a.cu and a_internal.h: one
module "a") whose files include each other's headers, directly or around a loop.

Prints one line per problem (file:line: what), then "layers: N passed, N failed" (N include
lines checked, plus one per circle found). Exit 1 when anything failed.
Usage: tests/check_layers.py [SOURCE_DIR]   (default: the folder above tests/)
"""
import os
import re
import sys

# Lowest level first. A file in a layer includes only headers from its own layer or from a
# layer whose level is lower. Keep README.md's code map in step with this table.
LAYERS = [
    ("trainer/core", 0),
    ("trainer/data", 1),
    ("trainer/backend", 1),
    ("trainer/model", 2),
    ("trainer/train", 3),
    ("trainer/cli", 4),
    ("sweep", 4),
]
FREE = ["tests", "bench"]            # may include anything (they test and time every layer)
INCLUDE_ROOTS = ["trainer", "tests"]  # the -I folders, after the including file's own folder
SOURCE_EXT = (".c", ".h", ".cu", ".cuh")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(rel):
    """(name, level) of the layer holding rel (a path relative to the source dir), or None."""
    for name, level in LAYERS:
        if rel == name or rel.startswith(name + "/"):
            return name, level
    return None


def resolve(src, including, target):
    """The included file, relative to src, as the compiler finds it; None if nowhere."""
    for base in [os.path.dirname(including)] + INCLUDE_ROOTS:
        path = os.path.normpath(os.path.join(base, target))
        if os.path.isfile(os.path.join(src, path)):
            return path
    return None


def source_files(src):
    for top in [name for name, _ in LAYERS] + FREE:
        for root, dirs, files in os.walk(os.path.join(src, top)):
            dirs.sort()
            for f in sorted(files):
                if f.endswith(SOURCE_EXT):
                    yield os.path.relpath(os.path.join(root, f), src)


def includes(src, rel):
    with open(os.path.join(src, rel), encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE_RE.match(line)
            if m:
                yield n, m.group(1)


def check_line(src, rel, n, target):
    """The problem with one include line, or None."""
    found = resolve(src, rel, target)
    if found is None:
        return f'{rel}:{n}: includes "{target}", which is not in the tree'
    here, there = layer_of(rel), layer_of(found)
    if here is None or there is None or here[0] == there[0]:
        return None                  # tests/bench, or within one layer
    if there[1] < here[1]:
        return None
    kind = "a sibling" if there[1] == here[1] else "a higher"
    return (f'{rel}:{n}: includes "{target}" ({there[0]}, level {there[1]}) from {here[0]} '
            f'(level {here[1]}): {kind} layer')


def module(rel):
    """a.c, a.h, a.cu and a_internal.h (a module's private header) are one module "a"."""
    stem = os.path.splitext(rel)[0]
    return stem[: -len("_internal")] if stem.endswith("_internal") else stem


def circles(edges):
    """Strongly connected groups of more than one module (Tarjan), each as a sorted list."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    passed, failed = 0, 0
    edges = {}                       # module -> modules of the same folder whose headers it includes
    for rel in source_files(src):
        for n, target in includes(src, rel):
            problem = check_line(src, rel, n, target)
            if problem:
                print(problem)
                failed += 1
            else:
                passed += 1
            found = resolve(src, rel, target)
            if found and os.path.dirname(found) == os.path.dirname(rel) and module(found) != module(rel):
                edges.setdefault(module(rel), set()).add(module(found))
    for group in circles(edges):
        print(f"include circle in {os.path.dirname(group[0])}/: "
              + " -> ".join(os.path.basename(m) for m in group + group[:1]))
        failed += 1
    print(f"layers: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
