#!/usr/bin/python3
"""check_layers - the #include lines of src/ keep to the layers of src/layers.txt.

Usage:
  check_layers.py [ROOT]     check ROOT/src against ROOT/src/layers.txt
                             (ROOT: the repository, by default this script's)
  check_layers.py --self-test
                             show that each rule fails when broken, on small
                             made-up trees and on a copy of the real one

src/layers.txt declares each layer once ("layer NAME FOLDER USES..." or
"frontend NAME FOLDER USES...", lowest first); CMakeLists.txt links the
layers' static libraries from the same lines. A module is X.c with X.h in
one folder (a header alone, such as monoclock.h, is a module too). Every
#include "..." line of every .c and .h under src/ is read, and each of these
is a failure, reported as FILE:LINE:

  1. a folder under src/ holding .c or .h files that no line declares; two
     headers of the same name (the include path is flat: the name alone
     must say which);
  2. an include that names no header under src/;
  3. an include of a header whose layer is neither the file's own nor one
     its layer uses, directly or through the layers it uses (an upward or
     sideways include);
  4. a cycle between modules: A includes B's header and B, directly or
     through other modules, includes A's (within a layer too, where the
     link order cannot catch it);
  5. a front end (a "frontend" line) that includes a header whose opening
     comment says it is "not an API for front ends";
  6. in src/layers.txt: a malformed line, a name or folder declared twice,
     or USES naming something that is not a layer declared on an earlier
     line (so the layers themselves cannot form a cycle).

Exit status 0 when all hold, 1 otherwise (2 for usage errors).
"""
import os
import re
import shutil
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
INTERNAL = "not an api for front ends"


def read_layers(root):
    """(layers, problems): layers is a list of dicts in file order."""
    path = os.path.join(root, "src", "layers.txt")
    layers, problems, names, folders = [], [], {}, set()
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        return [], ["%s: %s" % (path, e.strerror)]
    for n, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        where = "src/layers.txt:%d" % n
        if words[0] not in ("layer", "frontend") or len(words) < 3:
            problems.append("%s: expected \"layer|frontend NAME FOLDER USES...\"" % where)
            continue
        kind, name, folder, uses = words[0], words[1], os.path.normpath(words[2]), words[3:]
        if name in names or folder in folders:
            problems.append("%s: %s or %s declared twice" % (where, name, folder))
            continue
        for u in uses:
            if names.get(u) != "layer":
                problems.append("%s: %s uses %s, which is not a layer declared above it" %
                                (where, name, u))
        names[name] = kind
        folders.add(folder)
        layers.append({"kind": kind, "name": name, "folder": folder, "uses": uses})
    # What each may use: itself and, transitively, what it names.
    by_name = {l["name"]: l for l in layers}
    for l in layers:
        seen, todo = {l["name"]}, list(l["uses"])
        while todo:
            u = todo.pop()
            if u in seen or u not in by_name:
                continue
            seen.add(u)
            todo.extend(by_name[u]["uses"])
        l["may_use"] = seen
    return layers, problems


def opening_comment(text):
    """The header's text before its first preprocessor line, words only."""
    head = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            break
        head.append(line)
    return " ".join(" ".join(head).replace("/*", " ").replace("*/", " ").replace("*", " ")
                    .split()).lower()


def check(root):
    """Every problem with the includes of root/src, as a list of strings."""
    layers, problems = read_layers(root)
    if not layers:
        return problems or ["src/layers.txt declares no layer"]
    layer_of_folder = {l["folder"]: l for l in layers}
    files = []  # (relative path, layer)
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, "src")):
        dirnames.sort()
        code = sorted(f for f in filenames if f.endswith((".c", ".h")))
        if not code:
            continue
        folder = os.path.relpath(dirpath, root)
        layer = layer_of_folder.get(folder)
        if not layer:
            problems.append("%s/: holds code but src/layers.txt declares no layer there" % folder)
            continue
        files += [(os.path.join(folder, f), layer) for f in code]
    headers = {}  # name -> relative path
    for path, _ in files:
        name = os.path.basename(path)
        if name.endswith(".h"):
            if name in headers:
                problems.append("%s: a second %s (first %s): the include path is flat, so the "
                                "name alone must say which" % (path, name, headers[name]))
            else:
                headers[name] = path
    layer_of = dict(files)
    module_of = {p: os.path.splitext(p)[0] for p, _ in files}
    edges = {}  # module -> {module: (file, line)}
    for path, layer in files:
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        for n, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            target = headers.get(os.path.basename(inc))
            if "/" in inc:
                rel = os.path.normpath(os.path.join(os.path.dirname(path), inc))
                target = rel if rel in layer_of else None
            where = "%s:%d" % (path, n)
            if not target:
                problems.append("%s: includes \"%s\", which is no header under src/" % (where, inc))
                continue
            tl = layer_of[target]
            if tl["name"] not in layer["may_use"]:
                problems.append("%s: includes %s of layer %s, which %s %s may not use (it uses "
                                "%s)" % (where, target, tl["name"], layer["kind"], layer["name"],
                                         ", ".join(sorted(layer["may_use"] - {layer["name"]}))
                                         or "no other layer"))
            if layer["kind"] == "frontend":
                with open(os.path.join(root, target), encoding="utf-8", errors="replace") as f:
                    if INTERNAL in opening_comment(f.read()):
                        problems.append("%s: front end %s includes %s, which says it is not an "
                                        "API for front ends" % (where, layer["name"], target))
            a, b = module_of[path], module_of[target]
            if a != b:
                edges.setdefault(a, {}).setdefault(b, where)
    problems += cycles(edges)
    return problems


def cycles(edges):
    """One problem per group of modules that reach each other (Tarjan's SCC)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, {})):
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
                out.append(describe_cycle(sorted(group), edges))

    sys.setrecursionlimit(max(1000, 4 * len(edges) + 100))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def describe_cycle(group, edges):
    """A path around the cycle from the group's first module, with where each step is."""
    members, start = set(group), group[0]
    # Breadth-first from start back to start inside the group: a shortest cycle.
    prev, frontier, found = {}, [start], None
    while frontier and not found:
        nxt = []
        for v in frontier:
            for w in sorted(edges.get(v, {})):
                if w not in members:
                    continue
                if w == start:
                    found = v
                    break
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
            if found:
                break
        frontier = nxt
    back, v = [found], found
    while v != start:
        v = prev[v]
        back.append(v)
    path = back[::-1] + [start]  # start -> ... -> found -> start
    steps = ["%s (%s)" % (path[i + 1], edges[path[i]][path[i + 1]]) for i in range(len(path) - 1)]
    return "include cycle between modules: %s -> %s" % (path[0], " -> ".join(steps))


# ---- self-test -------------------------------------------------------------

SMALL_LAYERS = """\
# test layers
layer    base  src/lib/base
layer    mail  src/lib/mail  base
layer    dns   src/lib/dns   base
frontend cli   src/cli       mail dns
"""

GOOD = {
    "src/lib/base/a.h": "/* a */\n#ifndef A_H\n#define A_H\n#endif\n",
    "src/lib/base/a.c": '#include "a.h"\n',
    "src/lib/base/i.h": "/*\n * NAME\n *   i - internal (not an API for\n *   front ends)\n */\n#pragma once\n",
    "src/lib/mail/b.h": '#include "a.h"\n',
    "src/lib/mail/b.c": '#include "b.h"\n#include "i.h"\n#include <stdio.h>\n',
    "src/lib/mail/c.h": "",
    "src/lib/mail/c.c": '#include "c.h"\n#include "b.h"\n',
    "src/lib/dns/d.h": '#include "a.h"\n',
    "src/lib/dns/d.c": '#include "d.h"\n',
    "src/cli/main.c": '#include "b.h"\n#include "d.h"\n#include "../lib/base/a.h"\n',
}

# (name, changes to GOOD (path -> text), layers.txt or None for SMALL_LAYERS,
#  texts each found in some problem, how many problems or None for any)
CASES = [
    ("a tree that keeps the rules", {}, None, [], 0),
    ("upward include", {"src/lib/mail/leaf.h": "",
                        "src/lib/base/a.c": '#include "a.h"\n#include "leaf.h"\n'}, None,
     ["src/lib/base/a.c:2: includes src/lib/mail/leaf.h of layer mail, which layer base may not "
      "use"], 1),
    ("upward include that also closes a cycle",
     {"src/lib/base/a.c": '#include "a.h"\n#include "b.h"\n'}, None,
     ["src/lib/base/a.c:2: includes src/lib/mail/b.h of layer mail, which layer base may not use",
      "include cycle between modules: src/lib/base/a -> src/lib/mail/b (src/lib/base/a.c:2) -> "
      "src/lib/base/a (src/lib/mail/b.h:1)"], 2),
    ("sideways include", {"src/lib/dns/d.c": '#include "d.h"\n#include "c.h"\n'}, None,
     ["src/lib/dns/d.c:2: includes src/lib/mail/c.h of layer mail, which layer dns may not use"],
     1),
    ("a layer including a front end", {"src/cli/cli.h": "",
                                       "src/lib/mail/c.c": '#include "c.h"\n#include "cli.h"\n'},
     None, ["which layer mail may not use"], 1),
    ("cycle between two modules of one layer",
     {"src/lib/mail/b.c": '#include "b.h"\n#include "c.h"\n'}, None,
     ["include cycle between modules: src/lib/mail/b -> src/lib/mail/c (src/lib/mail/b.c:2) -> "
      "src/lib/mail/b (src/lib/mail/c.c:2)"], 1),
    ("cycle through three headers",
     {"src/lib/mail/e.h": '#include "f.h"\n', "src/lib/mail/f.h": '#include "g.h"\n',
      "src/lib/mail/g.h": '#include "e.h"\n'}, None,
     ["include cycle between modules: src/lib/mail/e -> src/lib/mail/f (src/lib/mail/e.h:1) -> "
      "src/lib/mail/g (src/lib/mail/f.h:1) -> src/lib/mail/e (src/lib/mail/g.h:1)"], 1),
    ("front end including an internal header",
     {"src/cli/main.c": '#include "b.h"\n#include "i.h"\n'}, None,
     ["src/cli/main.c:2: front end cli includes src/lib/base/i.h, which says it is not an API "
      "for front ends"], 1),
    ("include of no header", {"src/lib/mail/c.c": '#include "c.h"\n#include "nowhere.h"\n'}, None,
     ["src/lib/mail/c.c:2: includes \"nowhere.h\", which is no header under src/"], 1),
    ("folder not declared", {"src/lib/extra/x.c": ""}, None,
     ["src/lib/extra/: holds code but src/layers.txt declares no layer there"], 1),
    ("two headers of one name", {"src/lib/dns/a.h": ""}, None,
     ["src/lib/dns/a.h: a second a.h (first src/lib/base/a.h)"], 1),
    ("a layer using one declared after it", {},
     SMALL_LAYERS.replace("layer    mail  src/lib/mail  base", "layer    mail  src/lib/mail  dns")
     .replace("layer    dns   src/lib/dns   base", "layer    dns   src/lib/dns   mail"),
     ["src/layers.txt:3: mail uses dns, which is not a layer declared above it"], None),
    ("a layer using a front end", {},
     SMALL_LAYERS + "layer    late  src/lib/late  cli\n",
     ["late uses cli, which is not a layer declared above it"], 1),
    ("a malformed line", {}, SMALL_LAYERS + "module x\n", ["expected \"layer|frontend"], 1),
]


def make_tree(files, layers_txt):
    root = tempfile.mkdtemp(prefix="check_layers.")
    for path, text in files.items():
        os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(root, path), "w", encoding="utf-8") as f:
            f.write(text)
    with open(os.path.join(root, "src", "layers.txt"), "w", encoding="utf-8") as f:
        f.write(layers_txt)
    return root


def expect(name, problems, texts, count, failures):
    ok = (count is None or len(problems) == count) and bool(texts) == bool(problems) and \
        all(any(t in p for p in problems) for t in texts)
    print("%s: %s" % ("ok  " if ok else "FAIL", name))
    if not ok:
        failures.append(name)
        print("    wanted %s problem(s), among them:" % (count if count is not None else "some"))
        for t in texts:
            print("      " + t)
        print("    got:")
        for p in problems or ["(none)"]:
            print("      " + p)


def self_test():
    failures = []
    for name, changes, layers_txt, texts, count in CASES:
        files = dict(GOOD)
        files.update(changes)
        root = make_tree(files, layers_txt or SMALL_LAYERS)
        try:
            expect(name, check(root), texts, count, failures)
        finally:
            shutil.rmtree(root)
    # The real tree and its layers.txt: a copy passes, then fails with one
    # bad include of each kind.
    real = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root = tempfile.mkdtemp(prefix="check_layers.")
    try:
        shutil.copytree(os.path.join(real, "src"), os.path.join(root, "src"))
        expect("a copy of the real tree", check(root), [], 0, failures)
        err_c = os.path.join(root, "src", "lib", "base", "err.c")
        with open(err_c, encoding="utf-8") as f:
            original = f.read()
        with open(err_c, "a", encoding="utf-8") as f:
            f.write('#include "pfcheck.h"\n')
        expect("the real tree with base/err.c including pfcheck.h (top)", check(root),
               ["includes src/lib/top/pfcheck.h of layer top, which layer base may not use"],
               None, failures)  # a cycle too, as soon as pfcheck uses base (it does)
        with open(err_c, "w", encoding="utf-8") as f:
            f.write(original)
        addr_h = os.path.join(root, "src", "lib", "base", "addr.h")
        with open(addr_h, "a", encoding="utf-8") as f:
            f.write('#include "secfile.h"\n')
        secfile_h = os.path.join(root, "src", "lib", "base", "secfile.h")
        with open(secfile_h, "a", encoding="utf-8") as f:
            f.write('#include "addr.h"\n')
        expect("the real tree with addr.h and secfile.h including each other", check(root),
               ["include cycle between modules: src/lib/base/addr -> src/lib/base/secfile"], 1,
               failures)
    finally:
        shutil.rmtree(root)
    if failures:
        print("check_layers self-test: %d case(s) failed" % len(failures))
        return 1
    print("check_layers self-test: every rule failed when broken")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    root = argv[1] if len(argv) == 2 else os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print("check_layers: %d problem(s); the layers are declared in src/layers.txt" %
              len(problems))
        return 1
    print("check_layers: src/ keeps to src/layers.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
