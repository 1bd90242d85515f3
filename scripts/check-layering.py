#!/usr/bin/env python3
"""check-layering.py - the house rules a compiler does not check (docs/design.md §2).

Run from the repository root (ctest does). Prints one line per violation and exits 1 when
there is any:
  - a component (a directory under src/) includes another component's internal.h;
  - a component includes a component that is not in its allowed list (DEPS below);
  - an include circle between components;
  - a function in src/**/*.c longer than --max-fn-lines lines (default 120), counted from the
    line of its opening '{' at column 0 to the line of the matching '}', both included;
  - a file under src, include, transformers, bench, tests or scripts cites a design note
    outside the repository (the repository's own docs are cited instead).
--self-test runs the checks on a temporary tree holding one violation of each kind and fails
unless each is reported, so a broken check cannot pass silently.
"""
import argparse
import os
import re
import sys
import tempfile

# Which components a component may include (docs/design.md §2).
DEPS = {
    "common": set(),
    "auth": {"common"},
    "net": {"common"},
    "cluster": {"net", "auth", "common"},
    "xact": {"common", "net", "cluster"},
    "etlspec": {"common"},
    "etl": {"etlspec", "cluster", "net", "xact", "common"},
    "target": {"etl", "etlspec", "cluster", "xact", "net", "auth", "common"},
    "s3": {"cluster", "net", "auth", "common"},
    "proxy": {"s3", "etlspec", "cluster", "xact", "net", "auth", "common"},
    "daemon": {"common", "net", "auth", "cluster", "xact", "etlspec", "etl", "target", "proxy"},
    "client": {"common"},
    "cli": {"client", "auth", "common"},
    "etlsdk": {"common"},
}
# Public headers (include/) and the component that implements them.
PUBLIC_HEADERS = {"locus/client.h": "client", "locus/etl.h": "etlsdk"}

CITE_DIRS = ["src", "include", "transformers", "bench", "tests", "scripts"]
# Documents outside the repository. Spelled in pieces so this file does not cite them itself.
CITE_RE = re.compile(
    "|".join(
        [
            "ARCHITECTURE" + r"\.md",
            "PROTOCOL-" + r"[\w.-]*\.md",
            "LIBRARIES" + r"\.md",
            "BENCHMARK" + r"\.md",
            "shared" + "/docs",
        ]
    )
)
SKIP_DIRS = {"__pycache__", ".pytest_cache", "build", ".git"}
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def components(root):
    src = os.path.join(root, "src")
    return sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))


def source_files(root, comp):
    d = os.path.join(root, "src", comp)
    for dirpath, dirnames, filenames in os.walk(d):
        dirnames[:] = sorted(x for x in dirnames if x not in SKIP_DIRS)
        for f in sorted(filenames):
            if f.endswith((".c", ".h")):
                yield os.path.join(dirpath, f)


def rel(root, path):
    return os.path.relpath(path, root)


def included_component(header, comps):
    """The component a quoted or angle include names, or None (system headers)."""
    if header in PUBLIC_HEADERS:
        return PUBLIC_HEADERS[header]
    first = header.split("/", 1)[0]
    return first if "/" in header and first in comps else None


def check_includes(root):
    """Internal-header, allowed-dependency and circle violations."""
    out = []
    comps = components(root)
    edges = {c: {} for c in comps}  # comp -> {dep: first "file:line" that includes it}
    for comp in comps:
        if comp not in DEPS:
            out.append(("deps", f"src/{comp}: component is not in the dependency table of "
                                f"scripts/check-layering.py (add it with its allowed list)"))
        allowed = DEPS.get(comp, set())
        for path in source_files(root, comp):
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
            for no, line in enumerate(lines, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                header = m.group(1)
                dep = included_component(header, comps)
                if dep is None or dep == comp:
                    continue
                where = f"{rel(root, path)}:{no}"
                edges[comp].setdefault(dep, where)
                if os.path.basename(header) == "internal.h":
                    out.append(("internal", f"{where}: {comp} includes {header}, the internals of "
                                            f"{dep}"))
                elif comp in DEPS and dep not in allowed:
                    may = ", ".join(sorted(allowed)) or "nothing"
                    out.append(("deps", f"{where}: {comp} includes {header}, but {comp} may "
                                        f"include only: {may}"))
    for cycle in find_cycles(edges):
        path = " -> ".join(cycle + [cycle[0]])
        hops = "; ".join(edges[a][b] for a, b in zip(cycle, cycle[1:] + cycle[:1]))
        out.append(("circle", f"include circle {path} ({hops})"))
    return out


def find_cycles(edges):
    """One cycle per strongly connected component with more than one node (Tarjan)."""
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                sccs.append(set(scc))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    cycles = []
    for scc in sccs:
        # walk from the smallest node inside the SCC until a node repeats
        start = min(scc)
        path, seen, v = [], {}, start
        while v not in seen:
            seen[v] = len(path)
            path.append(v)
            v = min(w for w in edges[v] if w in scc)
        cycles.append(path[seen[v]:])
    return cycles


def blank_code(text):
    """text with comments, string and character literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
        else:
            out.append(c)
            i += 1
            continue
        out.append(re.sub(r"[^\n]", " ", text[i:j]))
        i = j
    return "".join(out)


def function_name(lines, brace):
    """The name in the signature above the '{' on line index brace."""
    for k in range(brace - 1, max(brace - 8, -1), -1):
        m = re.search(r"(\w+)\s*\(", lines[k])
        if m and not lines[k].startswith((" ", "\t")):
            return m.group(1)
    return "?"


def check_function_length(root, max_lines):
    out = []
    for comp in components(root):
        for path in source_files(root, comp):
            if not path.endswith(".c"):
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            lines = blank_code(text).split("\n")
            k = 0
            while k < len(lines):
                if not lines[k].startswith("{"):
                    k += 1
                    continue
                depth, end = 0, None
                for j in range(k, len(lines)):
                    for ch in lines[j]:
                        depth += (ch == "{") - (ch == "}")
                    if depth == 0:
                        end = j
                        break
                if end is None:
                    out.append(("length", f"{rel(root, path)}:{k + 1}: unbalanced braces"))
                    break
                count = end - k + 1
                if count > max_lines:
                    name = function_name(lines, k)
                    out.append(("length", f"{rel(root, path)}:{k + 1}: function {name} is "
                                          f"{count} lines long (at most {max_lines})"))
                k = end + 1
    return out


def check_citations(root):
    out = []
    for top in CITE_DIRS:
        d = os.path.join(root, top)
        for dirpath, dirnames, filenames in os.walk(d):
            dirnames[:] = sorted(x for x in dirnames if x not in SKIP_DIRS)
            for f in sorted(filenames):
                path = os.path.join(dirpath, f)
                try:
                    with open(path, encoding="utf-8") as fh:
                        text = fh.read()
                except (UnicodeDecodeError, OSError):
                    continue  # binary data
                for no, line in enumerate(text.split("\n"), 1):
                    m = CITE_RE.search(line)
                    if m:
                        out.append(("cite", f"{rel(root, path)}:{no}: cites {m.group(0)}, a "
                                            f"document outside the repository (cite "
                                            f"docs/design.md or docs/protocol.md)"))
    return out


def check(root, max_fn_lines):
    return (check_includes(root) + check_function_length(root, max_fn_lines) +
            check_citations(root))


def self_test():
    """One violation of each kind in a fake tree; each must be reported, nothing else."""
    files = {
        "src/common/util.h": "int ok(void);\n",
        # allowed include: no report
        "src/net/net.h": '#include "common/util.h"\n',
        # internal.h of another component (target may include etl, not its internals)
        "src/target/target.c": '#include "etl/internal.h"\n#include "etl/etl.h"\n',
        "src/etl/internal.h": "",
        # not allowed (proxy must not use the target-side runtime), no circle
        "src/proxy/proxy.c": '#include "etl/etl.h"\n',
        # circle: etl -> target -> etl
        "src/etl/etl.h": '#include "target/target.h"\n',
        "src/target/target.h": "",
        # 120 lines is fine; 121 is not; braces in strings, chars and comments do not count
        "src/common/util.c": (
            "int ok(void)\n{\n" + "    ;\n" * 118 + "}\n"
            "static int too_long(int x)\n{\n    const char *s = \"}}\"; /* } */\n"
            "    char c = '}'; // }\n" + "    ;\n" * 117 + "}\n"
        ),
        # a citation outside the repository
        "tests/unit/common/test_x.c": "/* see " + "ARCHITECTURE" + ".md §3 */\n",
        "scripts/ok.py": "# see docs/design.md §3\n",
    }
    with tempfile.TemporaryDirectory() as root:
        for name, text in files.items():
            path = os.path.join(root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        found = check(root, 120)
    for _, msg in found:
        print("  reported: " + msg)
    want = {
        "internal": "src/target/target.c:1: target includes etl/internal.h",
        "deps": "src/etl/etl.h:1: etl includes target/target.h",
        "circle": "include circle etl -> target -> etl",
        "length": "src/common/util.c:123: function too_long is 121 lines long",
        "cite": "tests/unit/common/test_x.c:1: cites ",
    }
    also_deps = "src/proxy/proxy.c:1: proxy includes etl/etl.h"
    failed = False
    for kind, prefix in list(want.items()) + [("deps", also_deps)]:
        if not any(k == kind and m.startswith(prefix) for k, m in found):
            print(f"self-test FAILED: no {kind} violation reported starting with: {prefix}")
            failed = True
    if len(found) != 6:
        print(f"self-test FAILED: {len(found)} violations reported, expected 6")
        failed = True
    print("self-test " + ("FAILED" if failed else "passed"))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-fn-lines", type=int, default=120,
                    help="longest function allowed in src/ (default 120)")
    ap.add_argument("--root", default=".", help="repository root (default: .)")
    ap.add_argument("--self-test", action="store_true",
                    help="check the checks against a fake tree with one violation of each kind")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    found = check(a.root, a.max_fn_lines)
    for _, msg in found:
        print(msg)
    if found:
        print(f"check-layering: {len(found)} violation(s)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
