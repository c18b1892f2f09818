#!/usr/bin/env python3
"""Fails when parts of src/ import each other in a loop, at two levels.

Reads every `crate::…`, `super::…` and `self::…` path in each file (use statements and paths in
code, test modules left out) and resolves it to what it names.

- Files: each path goes to the file that defines the name; a name a `mod.rs` (or lib.rs)
  re-exports with `pub use child::{…}` is followed to that child. A `mod.rs` is a file like any
  other: the names it defines itself and its own imports count, while its re-exports of its
  children are followed rather than counted (a parent declaring its children is no import).
- Top-level modules: each folder or file directly under src/ is one node (`run/` with all its
  files and its mod.rs, `error.rs`), and each path that leaves a node is an edge to the node it
  names, re-exports and mod.rs included. The stages form layers only if there is no circle here.

Prints each loop found, with the names that tie it, and exits 1 if there is one at either level.

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
    found.extend(re.findall(r"\b(?:crate|super|self)(?:::\w+)+", stripped))
    return found


REEXPORT = r"\bpub(?:\([^)]*\))?\s+use\s+(?:self::)?([^;]*);"


def reexports(mod_file):
    """name -> child module, from a mod.rs's `pub use child::…` lines."""
    names = {}
    for statement in re.findall(REEXPORT, code(mod_file.read_text())):
        for path in expand(statement):
            segments = path.split("::")
            if len(segments) >= 2 and segments[0] not in ("crate", "super"):
                name = segments[-1].split(" as ")[-1]
                names[name] = segments[0]
    return names


def anchored(module, path):
    """`path`, written in `module`, as (the module it starts from, the segments after it)."""
    segments = [segment for segment in path.split("::") if segment]
    base = [] if segments[0] == "crate" else list(module)
    while segments and segments[0] in ("crate", "super", "self"):
        if segments[0] == "super":
            base = base[:-1]
        segments = segments[1:]
    return base, segments


def resolve(module, path):
    """The file that defines what `path`, written in `module`, names."""
    base, segments = anchored(module, path)
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
    while found is not None and found.name in ("mod.rs", "lib.rs") and segments:
        child = reexports(found).get(segments[0].split(" as ")[0])
        if child is None:
            # Not re-exported: the mod.rs (or lib.rs) defines the name itself.
            return found
        deeper = file_of(target + [child])
        if deeper is None:
            return None
        target, found = target + [child], deeper
        segments = segments[1:]
    if found is not None and found.name in ("mod.rs", "lib.rs") and not segments:
        # A path to a module itself names no definition.
        return None
    return found


def node_of(path):
    """The top-level module a file belongs to: src/run/walk/local.rs -> run, src/error.rs -> error."""
    parts = path.relative_to(SRC).with_suffix("").parts
    return None if parts[0] in ("lib", "main") else parts[0]


def own_lines(path):
    """What a file says, less a mod.rs's re-exports of its own children (followed, not counted)."""
    text = code(path.read_text())
    if path.name == "mod.rs":
        text = re.sub(REEXPORT, lambda match: "" if not match.group(1).startswith(("crate", "super")) else match.group(0), text)
    return text


def loops_in(nodes, edges):
    """Tarjan's strongly connected components: each with more than one node is a loop."""
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
    for node in nodes:
        if node not in index:
            visit(node)
    return loops


def report(kind, nodes, edges, name):
    """Prints each loop with the names that tie it; the number of loops."""
    loops = loops_in(nodes, edges)
    for component in loops:
        print(f"{kind} loop: " + ", ".join(name(member) for member in component))
        for source in component:
            for target, names in sorted(edges.get(source, {}).items()):
                if target in component:
                    print(f"  {name(source)} -> {name(target)}: {', '.join(sorted(names))}")
    count = sum(len(targets) for targets in edges.values())
    print(f"{len(nodes)} {kind}s, {count} imports between them, {len(loops)} loop(s)")
    return len(loops)


def main():
    files = sorted(path for path in SRC.rglob("*.rs") if path.name not in ("lib.rs", "main.rs"))
    file_edges, module_edges = {}, {}
    for path in files:
        module = module_of(path)
        for used in paths(own_lines(path)):
            target = resolve(module, used)
            if target is not None and target != path:
                file_edges.setdefault(path, {}).setdefault(target, set()).add(used.split("::")[-1])
        # Re-exports count between top-level modules: `pub use crate::run::ask` ties the two.
        for used in paths(code(path.read_text())):
            target = resolve(module, used) or resolve_module(module, used)
            source, reached = node_of(path), target and node_of(target)
            if reached is not None and reached != source:
                name = used.split("::")[-1]
                file_name = str(path.relative_to(SRC))
                module_edges.setdefault(source, {}).setdefault(reached, set()).add(f"{name} ({file_name})")
    modules = sorted({node_of(path) for path in files} - {None})
    found = report("file", files, file_edges, lambda path: str(path.relative_to(SRC.parent)))
    found += report("module", modules, module_edges, lambda node: node)
    return 1 if found else 0


def resolve_module(module, path):
    """The file of the deepest module a path names (for `use crate::run;` and module paths)."""
    base, segments = anchored(module, path)
    if not base and segments:
        found = file_of(segments[:1])
        return found
    return file_of(base) if base else None


if __name__ == "__main__":
    sys.exit(main())
