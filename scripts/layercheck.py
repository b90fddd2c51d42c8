#!/usr/bin/python3
"""layercheck.py -- which file of the blf module calls which, from the object
files, and whether those calls keep to the layers (STYLE.md, "A shape that
fits this module"; README "Architecture").

    scripts/layercheck.py [--allow FILE] [--graph] DIR

DIR holds the module's object files (modules/blf after `make module`). For
each blf_*.o whose .c is in DIR, `nm` tells the global functions it defines
and the symbols it needs; a file needing a function another defines calls
it: that is an edge of the file-level call graph. Data (blf_cfg, counters)
is not counted: the check is about who calls whom, not who reads a
setting. Static functions are invisible to nm and need no checking: they
cannot leave their file.

It fails (exit 1) and says why when
  - a file calls a file of a higher layer: the edge and the symbols;
  - files call each other in a loop: the loop, file by file, with one
    symbol of each step;
  - a file has no layer (a new file: give it one in LAYERS below);
  - a pure file needs anything but libc, jansson (json_*) and libxml2
    (xml*): Kamailio's allocator, clock or log would keep it out of the
    unit tests and the fuzzers, which build it with plain cc.
An edge listed in the allow file (--allow; one "a.c -> b.c" per line, a
comment after '#' saying why) is known and not counted against either
check; an allowed edge that no longer exists is reported (exit 0) so the
list only ever shrinks. --graph prints every edge with its symbols.

Exit 0: clean; 1: violations; 2: usage or a tool failing.
"""

import os
import re
import subprocess
import sys

# Lower number = lower layer; a file may call its own layer and those
# below. Calls between files of one layer are fine unless they loop.
RANK = {"pure": 0, "tables": 1, "inputs": 2, "machinery": 2, "packages": 2,
        "outputs": 3, "faces": 4}

# file stem -> layer; prefixes (ending in '*') for families of files
LAYERS = {
    # pure: libc, jansson and libxml2 only; unit-tested with plain cc
    "blf_state": "pure", "blf_xml": "pure", "blf_expiry": "pure",
    "blf_json": "pure", "blf_branch": "pure", "blf_repl": "pure",
    "blf_sipcheck": "pure", "blf_sipscan": "pure", "blf_parkpage": "pure", "blf_dlgvar": "pure",
    "blf_tag": "pure", "blf_order": "pure", "blf_vis": "pure",
    "blf_pkg": "pure",  # the registry; the packages are blf_pkg_*
    "blf_pidf": "pure", "blf_rlmi": "pure", "blf_winfo": "pure",
    "blf_reginfo": "pure", "blf_hcpol": "pure", "blf_mvers": "pure",
    # tables: shared records under per-slot locks; leaves
    "blf_entity_reg": "tables",  # registered contacts (usrloc)
    "blf_entity": "tables", "blf_subrec": "tables", "blf_table": "tables",
    "blf_wcount": "tables", "blf_inflight": "tables",
    "blf_entity_repl": "tables", "blf_rhist": "tables", "blf_entity_pub": "tables", "blf_chg": "tables", "blf_sock": "tables",
    "blf_coalesce": "tables",
    "blf_hcache": "tables",  # the shm HTTP cache under alias, viscache, list
    # inputs: what changes the tables from outside
    "blf_dlg": "inputs", "blf_adopt": "inputs", "blf_ul": "inputs", "blf_http": "inputs",
    "blf_alias": "inputs", "blf_viscache": "inputs", "blf_park": "inputs", "blf_publish": "inputs",
    "blf_list": "inputs",
    # machinery: SUBSCRIBE, NOTIFY, expiry -- know no package by name
    "blf_subs": "machinery", "blf_notify": "machinery",
    "blf_ntx": "machinery", "blf_expire": "machinery",
    "blf_dtx": "machinery",  # blf's KDMQ as own UDP transactions
    "blf_listen": "machinery", "blf_wildcard": "machinery",
    "blf_delay": "machinery", "blf_reply": "machinery", "blf_visapply": "machinery",
    "blf_coaltimer": "machinery",
    "blf_lsub": "machinery",
    "blf_pkg_*": "packages",
    # outputs: listeners registered at init
    "blf_dmq": "outputs", "blf_db*": "outputs",
    # faces: exports, lifecycle, script and RPC
    "blf_mod": "faces", "blf_script": "faces", "blf_rpc": "faces",
}


def layer_of(stem):
    if stem in LAYERS:
        return LAYERS[stem]
    best = None
    for k, v in LAYERS.items():
        if k.endswith("*") and stem.startswith(k[:-1]):
            if best is None or len(k) > len(best[0]):
                best = (k, v)
    return best[1] if best else None


def nm_symbols(path):
    """(defined functions, undefined symbols) of one object file"""
    try:
        out = subprocess.run(["nm", "-P", path], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit("layercheck: nm %s: %s" % (path, e))
    defined, undefined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        name, kind = f[0], f[1]
        if kind in ("T", "W", "i"):
            defined.add(name)
        elif kind in ("U", "w"):
            undefined.add(name)
    return defined, undefined


# what a pure file may need besides the module's own pure files
# (_GLOBAL_OFFSET_TABLE_: the linker's, named by position-independent code)
PURE_LIBS = re.compile(r"^(json_|jansson_|xml|__|_GLOBAL_OFFSET_TABLE_$)")


def libc_symbols():
    """the functions and data libc exports, or None when it is not found"""
    try:
        cc = os.environ.get("CC", "cc")
        lib = subprocess.run([cc, "-print-file-name=libc.so.6"], check=True,
                             capture_output=True, text=True).stdout.strip()
        out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    syms = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 3:
            syms.add(f[2].split("@")[0])
    return syms or None


def read_allow(path):
    allow = {}
    if not path:
        return allow
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        sys.exit("layercheck: %s: %s" % (path, e))
    for n, line in enumerate(lines, 1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        m = re.fullmatch(r"(\S+\.c)\s*->\s*(\S+\.c)", body)
        if not m:
            sys.exit("layercheck: %s:%d: not 'a.c -> b.c': %s"
                     % (path, n, line))
        allow[(m.group(1), m.group(2))] = n
    return allow


def sccs(nodes, succ):
    """Tarjan's strongly connected components, iteratively"""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(succ.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(succ.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def one_cycle(comp, succ):
    """a loop through the first file of a component, by breadth-first
    search back to it inside the component"""
    inside = set(comp)
    start = comp[0]
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(succ.get(v, ())):
            if w not in inside:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return [start, start]


def main(argv):
    allow_path, graph, args = None, False, []
    i = 0
    while i < len(argv):
        if argv[i] == "--allow" and i + 1 < len(argv):
            allow_path = argv[i + 1]
            i += 2
        elif argv[i] == "--graph":
            graph = True
            i += 1
        elif argv[i].startswith("-"):
            sys.exit(__doc__)
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    d = args[0]
    objs = sorted(f for f in os.listdir(d)
                  if f.startswith("blf_") and f.endswith(".o")
                  and os.path.exists(os.path.join(d, f[:-2] + ".c")))
    if not objs:
        print("layercheck: no blf_*.o with its .c in %s (build first)" % d,
              file=sys.stderr)
        return 2

    defs, needs = {}, {}
    owner = {}
    for o in objs:
        c = o[:-2] + ".c"
        defs[c], needs[c] = nm_symbols(os.path.join(d, o))
        for s in defs[c]:
            owner.setdefault(s, c)
    edges = {}  # (a, b) -> sorted symbols
    for a in sorted(needs):
        for s in needs[a]:
            b = owner.get(s)
            if b and b != a:
                edges.setdefault((a, b), set()).add(s)
    edges = {k: sorted(v) for k, v in edges.items()}
    allow = read_allow(allow_path)

    bad = 0
    files = sorted(defs)
    for f in files:
        if layer_of(f[:-2]) is None:
            print("layercheck: %s has no layer: add it to LAYERS in %s"
                  % (f, os.path.relpath(__file__)))
            bad += 1
    if graph:
        for (a, b), syms in sorted(edges.items()):
            print("%s (%s) -> %s (%s): %s" % (a, layer_of(a[:-2]), b,
                  layer_of(b[:-2]), " ".join(syms)))
    if bad:
        return 1

    libc = libc_symbols()
    if libc is None:
        print("layercheck: libc's symbols not found (cc, nm): the pure files' "
              "foreign calls are not checked")
    for f in files:
        if layer_of(f[:-2]) != "pure" or libc is None:
            continue
        foreign = sorted(x for x in needs[f] if x not in owner
                         and x not in libc and not PURE_LIBS.match(x))
        if foreign:
            print("pure file %s needs what is not libc, jansson or libxml2: "
                  "%s" % (f, ", ".join(foreign)))
            bad += 1

    live = {e: s for e, s in edges.items() if e not in allow}
    for (a, b), syms in sorted(live.items()):
        la, lb = layer_of(a[:-2]), layer_of(b[:-2])
        if RANK[la] < RANK[lb]:
            print("layer violation: %s (%s) calls up into %s (%s): %s"
                  % (a, la, b, lb, ", ".join(syms)))
            bad += 1

    succ = {}
    for (a, b) in live:
        succ.setdefault(a, set()).add(b)
    for comp in sccs(files, succ):
        if len(comp) < 2:
            continue
        cyc = one_cycle(comp, succ)
        steps = ["%s -> %s (%s)" % (x, y, live[(x, y)][0])
                 for x, y in zip(cyc, cyc[1:])]
        print("call loop of %d files (%s):\n    %s"
              % (len(comp), " ".join(comp), "\n    ".join(steps)))
        bad += 1

    for (a, b), n in sorted(allow.items(), key=lambda x: x[1]):
        if (a, b) not in edges:
            print("layercheck: %s:%d: %s -> %s is gone: remove it"
                  % (allow_path, n, a, b))
    if bad:
        print("layercheck: %d problem(s); %d edge(s) allowed by %s"
              % (bad, len(allow), allow_path or "nothing"))
        return 1
    print("layercheck: %d files, %d calls between files, no loop, no call "
          "up a layer (%d known edge(s) allowed)"
          % (len(files), len(edges), len(allow)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
