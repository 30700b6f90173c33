"""What the bench report writers share: the line that ends every section, and
the writing of one marked section of BENCHMARKS.md.

The machine facts come from the environment that bench_facts
(bench/common.sh) exported; LOADAVG, when the script took it before adding
load, is reported too.
"""
import os
import re


def machine_line(load_note="", source_note=""):
    """'Machine: N × CPU, Linux K[, load average L before the run]. Date: D. Source: S.'"""
    e = os.environ
    load = (", load average %s before the run%s" % (e["LOADAVG"], load_note)
            if e.get("LOADAVG") else "")
    return "Machine: %s × %s, Linux %s%s. Date: %s. Source: %s%s." % (
        e["NPROC"], e["CPU"], e["KERNEL"], load, e["DATE"], e["GIT_REV"], source_note)


def write_section(root, begin, end, section):
    """Put section in place of the text from the marker starting with begin to
    the marker end in root/BENCHMARKS.md; append it when they are absent."""
    path = os.path.join(root, "BENCHMARKS.md")
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmarks\n\nResults of the scripts in bench/, newest run of each.\n\n"
    m = re.search(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", text, re.S)
    text = (text[:m.start()] + section + text[m.end():] if m
            else text.rstrip("\n") + "\n\n" + section)
    with open(path, "w") as f:
        f.write(text)
