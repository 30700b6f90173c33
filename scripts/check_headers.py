#!/usr/bin/python3
"""check_headers - every library header opens with a complete module comment.

Usage:
  check_headers.py [ROOT]     check every .h under ROOT/src/lib
                              (ROOT: the repository, by default this script's)
  check_headers.py --self-test
                              show that each rule fails when broken, on small
                              made-up headers

Each module header of src/lib opens with a Postfix-style comment (as
Postfix's dns_lookup.c does): the sections are lines " * WORD" alone, each
followed by its text. Each of these is a failure, reported as FILE:LINE:

  1. the file does not start with "/*", or that comment never ends;
  2. a required section is missing: NAME, SUMMARY, SYNOPSIS, DESCRIPTION,
     DIAGNOSTICS (every return code of every function: what a caller must
     tell apart), in any order; SECURITY is optional;
  3. a section appears twice, or has no text before the next one;
  4. NAME does not start with the module's name, "FILE - " (FILE the
     header's name without .h);
  5. the comment holds text that is not interface text: a placeholder
     ("TODO", "FIXME", "XXX", a version such as "3.?") or a history note
     ("API draft", "Additive:").

The check reads only the opening comment; it cannot tell whether the text is
true. Exit status 0 when all hold, 1 otherwise (2 for usage errors).
"""
import os
import re
import sys
import tempfile

REQUIRED = ("NAME", "SUMMARY", "SYNOPSIS", "DESCRIPTION", "DIAGNOSTICS")
SECTIONS = REQUIRED + ("SECURITY",)
SECTION = re.compile(r"^ \* ([A-Z]+)\s*$")
NOT_INTERFACE = re.compile(r"\bTODO\b|\bFIXME\b|\bXXX\b|\d\.\?|API draft|\bAdditive:")


def check_header(path, shown=None):
    """The problems of one header, as "FILE:LINE: text" strings."""
    shown = shown or path
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except (OSError, UnicodeDecodeError) as e:
        return ["%s:1: cannot read: %s" % (shown, e)]
    if not lines or lines[0].strip() != "/*":
        return ["%s:1: does not open with a module comment (\"/*\" alone)" % shown]
    end = next((i for i, l in enumerate(lines) if l.strip().endswith("*/")), None)
    if end is None:
        return ["%s:1: the opening comment never ends" % shown]
    problems, seen = [], {}
    current, has_text = None, False
    module = os.path.basename(path)[:-2]
    for i in range(1, end + 1):
        line = lines[i]
        m = SECTION.match(line)
        if m and m.group(1) in SECTIONS:
            word = m.group(1)
            if current and not has_text:
                problems.append("%s:%d: %s has no text" % (shown, seen[current], current))
            if word in seen:
                problems.append("%s:%d: %s appears twice (first at line %d)" %
                                (shown, i + 1, word, seen[word]))
            seen.setdefault(word, i + 1)
            current, has_text = word, False
            continue
        text = line.strip().lstrip("*/").strip()
        if text and current:
            if current == "NAME" and not has_text and not text.startswith(module + " - "):
                problems.append("%s:%d: NAME should start with \"%s - \"" %
                                (shown, i + 1, module))
            has_text = True
        if NOT_INTERFACE.search(line):
            problems.append("%s:%d: not interface text: %s" % (shown, i + 1, line.strip()))
    if current and not has_text:
        problems.append("%s:%d: %s has no text" % (shown, seen[current], current))
    for word in REQUIRED:
        if word not in seen:
            problems.append("%s:1: no %s section in the opening comment" % (shown, word))
    # Placeholders after the comment too (field comments are interface text).
    for i in range(end + 1, len(lines)):
        if NOT_INTERFACE.search(lines[i]):
            problems.append("%s:%d: not interface text: %s" % (shown, i + 1, lines[i].strip()))
    return problems


def check_tree(root):
    base = os.path.join(root, "src", "lib")
    problems, n = [], 0
    for folder, _, files in sorted(os.walk(base)):
        for name in sorted(files):
            if name.endswith(".h"):
                n += 1
                path = os.path.join(folder, name)
                problems += check_header(path, os.path.relpath(path, root))
    if n == 0:
        problems.append("%s: no headers found" % base)
    return problems


GOOD = """/*
 * NAME
 *   mod - a module
 * SUMMARY
 *   What it is.
 * SYNOPSIS
 *   int r = mod_do(x);
 * DESCRIPTION
 *   How it works.
 * DIAGNOSTICS
 *   mod_do returns 0, or -1 with err set.
 * SECURITY
 *   Bounded.
 */
int mod_do(int x);
"""


def self_test():
    cases = [
        ("good", GOOD, 0),
        ("no DIAGNOSTICS", GOOD.replace(" * DIAGNOSTICS\n *   mod_do returns 0, or -1 with err set.\n", ""), 1),
        ("no NAME", GOOD.replace(" * NAME\n *   mod - a module\n", ""), 1),
        ("no SUMMARY", GOOD.replace(" * SUMMARY\n", ""), 1),
        ("no DESCRIPTION", GOOD.replace(" * DESCRIPTION\n", ""), 1),
        ("no SYNOPSIS", GOOD.replace(" * SYNOPSIS\n", ""), 1),
        ("SECURITY optional", GOOD.replace(" * SECURITY\n *   Bounded.\n", ""), 0),
        ("empty section", GOOD.replace(" *   How it works.\n", ""), 1),
        ("twice", GOOD.replace(" * SECURITY\n", " * SUMMARY\n"), 1),
        ("wrong NAME", GOOD.replace("mod - a module", "other - a module"), 1),
        ("no comment", "#ifndef X\n" + GOOD, 1),
        ("unterminated", GOOD.replace(" */\n", ""), 1),
        ("placeholder", GOOD.replace("How it works.", "Since Postfix >= 3.?"), 1),
        ("history", GOOD.replace("int mod_do", "/* Added after the first API draft */\nint mod_do"), 1),
        ("todo", GOOD.replace("Bounded.", "TODO bound it"), 1),
    ]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mod.h")
        for name, text, want in cases:
            with open(path, "w") as f:
                f.write(text)
            got = len(check_header(path)) > 0
            if got != bool(want):
                print("self-test %s: expected %s, got %s: %s" %
                      (name, "a failure" if want else "no failure",
                       "a failure" if got else "none", check_header(path)))
                failed += 1
    # The real tree must pass.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    real = check_tree(root)
    if real:
        print("self-test: the real tree fails:\n  " + "\n  ".join(real))
        failed += 1
    print("self-test: %d of %d cases as expected" % (len(cases) + 1 - failed, len(cases) + 1))
    return 1 if failed else 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test()
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[1] if len(argv) == 2 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = check_tree(root)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
