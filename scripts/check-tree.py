#!/usr/bin/env python3
"""The shape the code keeps (checked by scripts/test.sh):
- no cycle among the source files of a crate in the graph of `crate::` and `super::` paths
  (a file's `use crate::a::b` points at a/b.rs or a/b/mod.rs, or the longest such prefix);
- no code file over 800 lines (test files and `tests.rs` submodules aside).

    python3 scripts/check-tree.py        # exits 1 and names what is wrong
"""
import os, re, sys
from collections import defaultdict

def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return rel

def file_of(src, parts):
    # longest prefix of parts that is a file
    for n in range(len(parts), -1, -1):
        p = parts[:n]
        cands = [os.path.join(src, *p) + ".rs", os.path.join(src, *p, "mod.rs")] if p else [os.path.join(src, "lib.rs"), os.path.join(src, "main.rs")]
        for c in cands:
            if os.path.exists(c):
                return c
    return None

def paths_in(text):
    text = re.sub(r"//[^\n]*", "", text)
    for m in re.finditer(r"\b(crate|super)((?:::super)*)::([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)", text):
        yield m.group(1), m.group(2).count("super"), m.group(3).split("::")

def crate_graph(src):
    g = defaultdict(set)
    files = []
    for root, _, fs in os.walk(src):
        for f in fs:
            if f.endswith(".rs"):
                files.append(os.path.join(root, f))
    for f in files:
        if re.search(r"(^|/)tests?(\.rs|/)", os.path.relpath(f, src)):
            continue
        mod = module_of(src, f)
        text = open(f).read()
        # drop #[cfg(test)] mod tests { ... } blocks crudely
        i = text.find("#[cfg(test)]\nmod tests {")
        if i >= 0:
            text = text[:i]
        for kind, extra_super, parts in paths_in(text):
            if kind == "crate":
                base = []
            else:
                is_modfile = os.path.basename(f) in ("mod.rs", "lib.rs", "main.rs")
                base = mod[:]
                ups = 1 + extra_super
                if not is_modfile:
                    ups += 0
                # `super` from file a/b.rs (module a::b) is module a
                base = base[:len(base) - ups] if ups <= len(base) else []
            target = file_of(src, base + parts)
            if target and os.path.abspath(target) != os.path.abspath(f):
                g[f].add(target)
    return g

def cycles(g):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)
    def strong(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                strong(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1:
                out.append(comp)
    for v in list(g):
        if v not in index:
            strong(v)
    return out

LINES_MAX = 800


def long_files(root):
    out = []
    for top in ("crates", "tools", "integration-tests"):
        for d, _, fs in os.walk(os.path.join(root, top)):
            if "/target" in d or "/fixtures" in d:
                continue
            for f in fs:
                p = os.path.join(d, f)
                if not f.endswith(".rs") or f == "tests.rs" or "/tests/" in p:
                    continue
                n = sum(1 for _ in open(p, encoding="utf-8", errors="replace"))
                if n > LINES_MAX:
                    out.append((os.path.relpath(p, root), n))
    return out


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    bad = 0
    crates = [os.path.join(root, "crates", d) for d in sorted(os.listdir(os.path.join(root, "crates")))]
    crates += [os.path.join(root, "tools", d) for d in sorted(os.listdir(os.path.join(root, "tools")))]
    crates.append(os.path.join(root, "integration-tests"))
    for c in crates:
        src = os.path.join(c, "src")
        if not os.path.isdir(src):
            continue
        for cycle in cycles(crate_graph(src)):
            bad += 1
            print("import cycle:", " -> ".join(sorted(os.path.relpath(x, root) for x in cycle)))
    for path, n in long_files(root):
        bad += 1
        print(f"{path}: {n} lines (at most {LINES_MAX})")
    if bad:
        sys.exit(1)
    print("check-tree: no import cycle, no code file over", LINES_MAX, "lines")


if __name__ == "__main__":
    main()
