#!/usr/bin/python3
"""Generate the bash and zsh completion of fwdauth and fwdauthd from the
programs' own help.

    completion.py --fwdauth BIN --fwdauthd BIN --out DIR
    completion.py --fwdauth BIN --fwdauthd BIN --dump     (the model as JSON)

The build runs this after linking both programs (CMakeLists.txt), so a
command or option added to a program is completed without touching this
file. What it reads:
  - commands: the "commands:" section of `fwdauth --help`; `help` when
    `fwdauth help CMD` prints CMD's help;
  - a command's actions (dkim sign|verify|keygen, srs forward|reverse, ...):
    the words after "fwdauth CMD" in its usage lines, each asked for its
    own `--help` (an action whose help is the command's shares its options);
  - options: every help line that starts (indented) with "-": its option
    names, an argument when a placeholder follows a name ("-k KEYFILE"),
    and the description; "-s, --selector SEL" is one option with two names;
    options named only in the usage lines are added;
  - what an argument completes to: a file for placeholders ending in FILE,
    a folder for DIR, the listed words when the description starts with
    "a (default), b or c", else nothing (a domain, an address).
tests/integration/test_completion.py checks the result against the
programs: every completed option is accepted (getopt), every long option of
the sources' option tables is completed, and bash and zsh complete as
expected.
"""
import argparse
import json
import os
import re
import subprocess
import sys

OPTION_LINE = re.compile(r"^( {1,6})(-\S.*)$")
GAP = re.compile(r" {2,}")
OPT_TOKEN = re.compile(r"^--?[A-Za-z0-9][A-Za-z0-9-]*$")
ALIAS_SPEC = re.compile(r"^(-[A-Za-z0-9]), (--[A-Za-z0-9-]+)(?: (\S+))?$")
WORD = r"[a-z0-9][a-z0-9._-]*"
# "a (default), b or c ..." at the start of a description, or after a
# "label: "; the last word must end the list (not "agent or user identifier").
CHOICES = re.compile(r"^(?:[^:;()]*: )?(%s)(?: \([^)]*\))?((?:, %s(?: \([^)]*\))?)*) or (%s)"
                     r"(?=$| \(|[;,.])" % (WORD, WORD, WORD))


def run_help(argv):
    """stdout of argv when it exits 0, else None."""
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
    return r.stdout if r.returncode == 0 else None


def arg_kind(metavar, desc):
    """("file"|"dir"|"choices"|"value", [words])."""
    m = CHOICES.match(desc)
    if m:
        words = [m.group(1)] + re.findall(r", (%s)" % WORD, m.group(2)) + [m.group(3)]
        return "choices", words
    base = metavar.rstrip(".").upper()
    if base.endswith("FILE"):
        return "file", []
    if base.endswith("DIR"):
        return "dir", []
    return "value", []


def make_option(names, metavar, desc):
    # getopt takes any option again (the last or every value counts): an
    # option with an argument may be given again, a flag once is enough
    o = {"names": names, "arg": metavar, "desc": desc, "kind": None, "choices": [],
         "repeat": bool(metavar)}
    if metavar:
        o["kind"], o["choices"] = arg_kind(metavar, desc)
    return o


def spec_options(spec, desc):
    """The options one spec (the text before the description) names."""
    m = ALIAS_SPEC.match(spec)
    if m:
        return [make_option([m.group(1), m.group(2)], m.group(3), desc)]
    tokens = [t for t in re.split(r"[\s,\[\]|]+", spec) if t]
    out = []
    for i, t in enumerate(tokens):
        if not OPT_TOKEN.match(t):
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        metavar = nxt if nxt and not nxt.startswith("-") else None
        out.append(make_option([t], metavar, desc))
    return out


def parse_options(text):
    """Options of one help text, in order, by the rules of the docstring."""
    opts, cur_desc = [], None
    usage, in_usage = [], False
    for line in text.splitlines():
        if line.startswith("usage:"):
            in_usage = True
            usage.append(line)
            continue
        if in_usage:
            # continuations are aligned under the program name, deeper than
            # the option lines that may follow at once (fwdauthd -h)
            if line.startswith(" " * 7) and line.strip().startswith(("[", "-", "fwdauth")):
                usage.append(line)
                continue
            in_usage = False
        m = OPTION_LINE.match(line)
        if m:
            parts = GAP.split(m.group(2).rstrip(), maxsplit=1)
            spec, desc = parts[0], (parts[1] if len(parts) > 1 else "")
            new = spec_options(spec, desc)
            opts.extend(new)
            cur_desc = new
            continue
        if cur_desc and line.startswith("     ") and line.strip():
            # a continuation of the description (deeper indentation)
            for o in cur_desc:
                o["desc"] = (o["desc"] + " " + line.strip()).strip()
                if o["arg"]:
                    o["kind"], o["choices"] = arg_kind(o["arg"], o["desc"])
            continue
        cur_desc = None
    known = {n for o in opts for n in o["names"]}
    for line in usage:
        for o in spec_options(line.replace("usage:", " "), ""):
            if not set(o["names"]) & known:
                opts.append(o)
                known.update(o["names"])
    return opts


def usage_words(text, path):
    """Words right after "fwdauth PATH" in the usage lines: the actions."""
    words = []
    prefix = r"fwdauth " + r" ".join(re.escape(p) for p in path) + r" ([a-z][a-z0-9|-]*)"
    for m in re.finditer(prefix, text):
        for w in m.group(1).split("|"):
            if w not in words:
                words.append(w)
    return words


def listed(text, names):
    """{name: summary} of help lines "  name   summary" for the given names."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^ {2}([a-z][a-z0-9-]*) {2,}(.*)$", line)
        if m and m.group(1) in names:
            out[m.group(1)] = m.group(2).strip()
    return out


def node(binary, path, text, depth):
    n = {"options": parse_options(text), "actions": {}, "summaries": {}}
    if depth == 0:
        return n
    words = usage_words(text, path)
    summaries = listed(text, words)
    for w in words:
        sub = run_help([binary] + path + [w, "--help"])
        if sub is None:
            continue
        n["actions"][w] = node(binary, path + [w], sub, depth - 1) if sub != text else \
            {"options": n["options"], "actions": {}, "summaries": {}}
        n["summaries"][w] = summaries.get(w, "")
    return n


def model(fwdauth, fwdauthd):
    top = run_help([fwdauth, "--help"])
    if top is None:
        sys.exit("completion.py: %s --help failed" % fwdauth)
    commands, section = {}, False
    for line in top.splitlines():
        if line.strip() == "commands:":
            section = True
            continue
        if section:
            m = re.match(r"^ {2}([a-z][a-z0-9-]*) {2,}(.*)$", line)
            if not m:
                if line.strip():
                    section = False
                continue
            commands[m.group(1)] = m.group(2).strip()
    if not commands:
        sys.exit("completion.py: no commands in %s --help" % fwdauth)
    cli = {"options": [make_option(["-h", "--help"], None, "describe fwdauth and its commands"),
                       make_option(["-V", "--version"], None, "print the version")],
           "actions": {}, "summaries": {}}
    for c, summary in commands.items():
        text = run_help([fwdauth, c, "--help"])
        if text is None:
            sys.exit("completion.py: %s %s --help failed" % (fwdauth, c))
        cli["actions"][c] = node(fwdauth, [c], text, 1)
        cli["summaries"][c] = summary
    first = sorted(commands)[0]
    text = run_help([fwdauth, "help", first])
    if text is not None and text == run_help([fwdauth, first, "--help"]):
        cli["actions"]["help"] = {"options": [], "summaries": dict(commands),
                                  "actions": {c: {"options": [], "actions": {}, "summaries": {}}
                                              for c in commands}}
        cli["summaries"]["help"] = "describe a command"
    daemon_help = run_help([fwdauthd, "-h"])
    if daemon_help is None:
        sys.exit("completion.py: %s -h failed" % fwdauthd)
    daemon = {"options": parse_options(daemon_help), "actions": {}, "summaries": {}}
    return {"fwdauth": cli, "fwdauthd": daemon}


# ---- bash -------------------------------------------------------------------

def sh_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def walk(n, path=()):
    yield path, n
    for a, sub in n["actions"].items():
        yield from walk(sub, path + (a,))


def bash_node(prog, path, n):
    """One case branch: what to complete at PATH."""
    out = ["        %s)" % sh_quote(" ".join(path))]
    cases = {}
    for o in n["options"]:
        if not o["arg"]:
            continue
        if o["kind"] == "file":
            act = "_fwdauth_files"
        elif o["kind"] == "dir":
            act = "_fwdauth_dirs"
        elif o["kind"] == "choices":
            act = "COMPREPLY=($(compgen -W %s -- \"$cur\"))" % sh_quote(" ".join(o["choices"]))
        else:
            act = ":"  # a value (domain, address...): nothing to offer
        cases.setdefault(act, []).extend(o["names"])
    if cases:
        out.append("            case \"$prev\" in")
        for act, names in cases.items():
            out.append("            %s) %s; return ;;" % ("|".join(names), act))
        out.append("            esac")
    opts = " ".join(nm for o in n["options"] for nm in o["names"])
    out.append("            opts=%s" % sh_quote(opts))
    out.append("            actions=%s" % sh_quote(" ".join(n["actions"])))
    out.append("            ;;")
    return out


def bash(m):
    lines = [
        "# bash completion for fwdauth and fwdauthd (installed under both names).",
        "# Generated by scripts/completion.py from the programs' --help: do not edit.",
        "",
        "_fwdauth_files() { compopt -o filenames 2>/dev/null; "
        "COMPREPLY=($(compgen -f -- \"$cur\")); }",
        "_fwdauth_dirs() { compopt -o filenames 2>/dev/null; "
        "COMPREPLY=($(compgen -d -- \"$cur\")); }",
        "",
    ]
    for prog in ("fwdauth", "fwdauthd"):
        fn = "_" + prog
        lines += [
            "%s() {" % fn,
            "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\" path=\"\" w i opts actions",
            "    [ \"$COMP_CWORD\" -gt 0 ] && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"",
            "    COMPREPLY=()",
            "    # the actions given so far (words that are not options), deepest first",
            "    for ((i = 1; i < COMP_CWORD; i++)); do",
            "        w=\"${COMP_WORDS[i]}\"",
            "        case \"$w\" in -*) continue ;; esac",
            "        %s_has_action \"$path\" \"$w\" || continue  # an option's value, a file" % fn,
            "        path=\"${path:+$path }$w\"",
            "    done",
            "    case \"$path\" in",
        ]
        for path, n in walk(m[prog]):
            lines += bash_node(prog, path, n)
        lines += [
            "        *) return ;;",
            "    esac",
            "    if [[ \"$cur\" == -* ]]; then",
            "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))",
            "    elif [ -n \"$actions\" ]; then",
            "        COMPREPLY=($(compgen -W \"$actions\" -- \"$cur\"))",
            "    else",
            "        _fwdauth_files",
            "    fi",
            "}",
            "",
            "%s_has_action() {" % fn,
            "    case \"$1:$2\" in",
        ]
        pairs = ["%s:%s" % (" ".join(p), a) for p, n in walk(m[prog]) for a in n["actions"]]
        if pairs:
            lines.append("        %s) return 0 ;;" % "|".join(sh_quote(p) for p in pairs))
        lines += [
            "    esac",
            "    return 1",
            "}",
            "complete -F %s %s" % (fn, prog),
            "",
        ]
    return "\n".join(lines)


# ---- zsh --------------------------------------------------------------------

def zq(s):
    """A zsh single-quoted word."""
    return "'" + s.replace("'", "'\\''") + "'"


def z_desc(s):
    s = s.split(". ")[0]
    if len(s) > 70:
        s = s[:67].rsplit(" ", 1)[0] + "..."
    return s.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:")


def z_option_specs(n):
    specs = []
    for o in n["options"]:
        desc = "[%s]" % z_desc(o["desc"]) if o["desc"] else ""
        if o["arg"]:
            msg = o["arg"].replace(":", "\\:")
            if o["kind"] == "file":
                act = "_files"
            elif o["kind"] == "dir":
                act = "_files -/"
            elif o["kind"] == "choices":
                act = "(%s)" % " ".join(o["choices"])
            else:
                act = " "
            tail = ":%s:%s" % (msg, act)
        else:
            tail = ""
        names = o["names"]
        if len(names) > 1:
            excl = "" if o["repeat"] else "(%s)" % " ".join(names)
            star = "*" if o["repeat"] else ""
            specs.append(zq(excl) + "{" + ",".join(star + nm for nm in names) + "}" +
                         zq(desc + tail))
        else:
            specs.append(zq(("*" if o["repeat"] else "") + names[0] + desc + tail))
    return specs


def zsh_function(name, n, path):
    out = ["%s() {" % name]
    specs = z_option_specs(n)
    if n["actions"]:
        out.append("    local curcontext=\"$curcontext\" state state_descr line")
        out.append("    typeset -A opt_args")
        acts = " ".join(zq("%s:%s" % (a.replace(":", "\\:"), z_desc(s) or a))
                        for a, s in n["summaries"].items())
        out.append("    local -a actions; actions=(%s)" % acts)
        out.append("    _arguments -C -s %s \\" % " ".join(specs) if specs else
                   "    _arguments -C \\")
        out.append("        '1: :->action' '*:: :->rest' && return 0")
        out.append("    case $state in")
        out.append("    action) _describe -t actions %s actions ;;" % zq(
            (" ".join(path) + " action") if path else "command"))
        out.append("    rest)")
        out.append("        case $words[1] in")
        for a in n["actions"]:
            out.append("        %s) %s_%s ;;" % (zq(a), name, re.sub(r"\W", "_", a)))
        out.append("        esac ;;")
        out.append("    esac")
    else:
        out.append("    _arguments -s -S %s '*:file:_files'" % " ".join(specs) if specs else
                   "    _files")
    out.append("}")
    out.append("")
    for a, sub in n["actions"].items():
        out += zsh_function("%s_%s" % (name, re.sub(r"\W", "_", a)), sub, path + (a,))
    return out


def zsh(m):
    lines = [
        "#compdef fwdauth fwdauthd",
        "# zsh completion for fwdauth and fwdauthd.",
        "# Generated by scripts/completion.py from the programs' --help: do not edit.",
        "",
    ]
    lines += zsh_function("_fwdauth_cli", m["fwdauth"], ())
    lines += zsh_function("_fwdauth_daemon", m["fwdauthd"], ())
    lines += [
        "case $service in",
        "fwdauthd) _fwdauth_daemon \"$@\" ;;",
        "*) _fwdauth_cli \"$@\" ;;",
        "esac",
        "",
    ]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fwdauth", required=True)
    ap.add_argument("--fwdauthd", required=True)
    ap.add_argument("--out", help="write DIR/fwdauth.bash and DIR/_fwdauth")
    ap.add_argument("--dump", action="store_true", help="print the model as JSON")
    a = ap.parse_args()
    m = model(a.fwdauth, a.fwdauthd)
    if a.dump:
        json.dump(m, sys.stdout, indent=1)
        print()
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        for name, text in (("fwdauth.bash", bash(m)), ("_fwdauth", zsh(m))):
            tmp = os.path.join(a.out, name + ".tmp")
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, os.path.join(a.out, name))


if __name__ == "__main__":
    main()
