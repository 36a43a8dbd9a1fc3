"""Fails when modules import each other in a cycle, at any depth and including imports
inside functions (a function-level import hides a cycle, it does not remove it); imports
under ``if TYPE_CHECKING:`` never run and are left out. Prints each cycle found.

    python -m devtools.import_cycles
"""

from __future__ import annotations

import sys

import grimp

PACKAGES = ("hotline_link", "call_control", "seat_pool", "ivr", "agi_scripts", "tickets", "linkage",
            "supervisor", "exchange", "devtools")


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components with more than one module (cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def module_graph() -> dict[str, set[str]]:
    built = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    return {m: {i for i in built.find_modules_directly_imported_by(m) if not m.startswith(i + ".")}
            for m in built.modules}


def main() -> int:
    cycles = strongly_connected(module_graph())
    for cycle in cycles:
        print("import cycle: " + " <-> ".join(cycle))
    print(f"import cycles: {len(cycles)}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
