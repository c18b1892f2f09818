#!/usr/bin/env python3
"""Fails when two source files of src/ import each other in a loop.

Reads every `crate::…` and `super::…` path in each file (use statements and paths in code,
test modules left out), resolves it to the file that defines it, and looks for cycles among
files. A `mod.rs` only declares and re-exports: a path that ends in one is followed through its
`pub use child::{…}` lines to the child that defines the name, and a mod.rs's own lines are no
imports. Prints each loop found, with the names that tie it, and exits 1 if there is one.

    scripts/import-loops.py [SRC_DIR]
"""

import re
import sys
from pathlib import Path

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "src")


def module_of(path):
    """src/run/inspect.rs -> ["run", "inspect"]; src/run/mod.rs -> ["run"]; src/lib.rs -> []."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def file_of(module):
    """The file of a module path, or None."""
    if not module:
        return SRC / "lib.rs"
    for candidate in (SRC.joinpath(*module).with_suffix(".rs"), SRC.joinpath(*module, "mod.rs")):
        if candidate.is_file():
            return candidate
    return None


def code(text):
    """The text without comments, string literals and the test module at the end."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'r#"(?:.|\n)*?"#', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    cut = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    return text[: cut.start()] if cut else text


def expand(path):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    path = path.replace(" ", "").replace("\n", "")
    brace = path.find("{")
    if brace < 0:
        return [path]
    head, body = path[:brace], path[brace + 1 : path.rfind("}")]
    parts, depth, current = [], 0, ""
    for character in body:
        if character == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += character == "{"
        depth -= character == "}"
        current += character
    parts.append(current)
    return [expanded for part in parts if part for expanded in expand(head + part)]


def paths(text):
    """Every crate:: or super:: path in the text, use statements expanded."""
    found = []
    for statement in re.findall(r"\buse\s+((?:crate|super|self)::[^;]*);", text):
        found.extend(expand(statement))
    stripped = re.sub(r"\buse\s+[^;]*;", "", text)
    found.extend(re.findall(r"\b(?:crate|super)(?:::\w+)+", stripped))
    return found


def reexports(mod_file):
    """name -> child module, from a mod.rs's `pub use child::…` lines."""
    names = {}
    for statement in re.findall(r"\bpub(?:\([^)]*\))?\s+use\s+(?:self::)?([^;]*);", code(mod_file.read_text())):
        for path in expand(statement):
            segments = path.split("::")
            if len(segments) >= 2 and segments[0] not in ("crate", "super"):
                name = segments[-1].split(" as ")[-1]
                names[name] = segments[0]
    return names


def resolve(module, path):
    """The file that defines what `path`, written in `module`, names."""
    segments = [segment for segment in path.split("::") if segment]
    base = [] if segments[0] == "crate" else list(module)
    while segments and segments[0] in ("crate", "super", "self"):
        if segments[0] == "super":
            base = base[:-1]
        segments = segments[1:]
    target = base
    found = file_of(target)
    for segment in segments:
        deeper = file_of(target + [segment])
        if deeper is None:
            break
        target = target + [segment]
        found = deeper
        segments = segments[1:]
    # A name re-exported by a mod.rs is defined in one of its children.
    while found is not None and found.name == "mod.rs" and segments:
        child = reexports(found).get(segments[0].split(" as ")[0])
        if child is None:
            return None
        deeper = file_of(target + [child])
        if deeper is None:
            return None
        target, found = target + [child], deeper
    if found is not None and found.name in ("mod.rs", "lib.rs"):
        return None
    return found


def main():
    files = sorted(path for path in SRC.rglob("*.rs") if path.name not in ("mod.rs", "lib.rs", "main.rs"))
    edges = {}
    for path in files:
        module = module_of(path)
        for used in paths(code(path.read_text())):
            target = resolve(module, used)
            if target is not None and target != path:
                edges.setdefault(path, {}).setdefault(target, set()).add(used.split("::")[-1])
    # Tarjan's strongly connected components: each with more than one file is a loop.
    index, low, stack, on_stack, loops, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    sys.setrecursionlimit(10000)
    for path in files:
        if path not in index:
            visit(path)
    for component in loops:
        print("import loop: " + ", ".join(str(member.relative_to(SRC.parent)) for member in component))
        for source in component:
            for target, names in sorted(edges.get(source, {}).items()):
                if target in component:
                    print(f"  {source.relative_to(SRC.parent)} -> {target.relative_to(SRC.parent)}: {', '.join(sorted(names))}")
    count = sum(len(targets) for targets in edges.values())
    print(f"{len(files)} files, {count} imports between them, {len(loops)} loop(s)")
    return 1 if loops else 0


if __name__ == "__main__":
    sys.exit(main())
