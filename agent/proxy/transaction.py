"""One nftables transaction (an `nft -f -` script) from the rules in place to the
rules wanted (pure).

    script = transaction(want, have=None, existing=Existing(chains, sets))   # full
    script = transaction(want, have=last_applied)                             # partial

nft applies a script atomically: every packet sees the old rules or the new.
A full sync (`have` None: at start, after a failure, periodically) declares
everything, flushes and refills every chain, map and set of ours, and deletes
whatever else our table holds (`existing`, read from the kernel). A partial
sync rewrites only chains whose rules changed, adds and deletes only the map
elements that changed, and deletes chains and sets no longer wanted, so an
endpoint change costs a few lines whatever the number of Services.
Affinity sets are declared with `add`, which keeps their elements (the
clients' remembered endpoints) across syncs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.proxy.rules import BASE_CHAINS, FAMILY, IPS_SET, MAPS, TABLE, Ruleset

T = f"{FAMILY} {TABLE}"


@dataclass
class Existing:
    """Chain and set names found in our table in the kernel (for a full sync)."""

    chains: set[str] = field(default_factory=set)
    sets: set[str] = field(default_factory=set)


def _declare_chain(name: str) -> str:
    decl = BASE_CHAINS.get(name)
    return f"add chain {T} {name} {{ {decl} }}" if decl else f"add chain {T} {name}"


def _fill(name: str, rules: Iterable[str]) -> list[str]:
    return [f"flush chain {T} {name}", *(f"add rule {T} {name} {r}" for r in rules)]


def _elements(verb: str, name: str, items: list[str]) -> list[str]:
    out = []
    for i in range(0, len(items), 500):     # keep lines a sane length
        out.append(f"{verb} element {T} {name} {{ {', '.join(items[i:i + 500])} }}")
    return out


def _declarations() -> list[str]:
    lines = [f"add table {T}", f"add set {T} {IPS_SET} {{ type ipv4_addr; }}"]
    lines += [f"add map {T} {name} {{ {decl} }}" for name, decl in MAPS.items()]
    return lines


def transaction(want: Ruleset, have: Ruleset | None = None,
                existing: Existing | None = None) -> str:
    if have is None:
        return _full(want, existing or Existing())
    return _partial(want, have)


def _full(want: Ruleset, existing: Existing) -> str:
    lines = _declarations()
    lines += [_declare_chain(name) for name in want.chains]
    lines += [f"add set {T} {name} {{ {decl} }}" for name, decl in want.sets.items()]
    stale_chains = sorted(existing.chains - set(want.chains))
    lines += [f"flush chain {T} {name}" for name in stale_chains]
    for name in MAPS:
        lines.append(f"flush map {T} {name}")
    lines.append(f"flush set {T} {IPS_SET}")
    for name, rules in want.chains.items():
        lines += _fill(name, rules)
    for name, elements in want.maps.items():
        lines += _elements("add", name, [f"{k} : {v}" for k, v in sorted(elements.items())])
    lines += _elements("add", IPS_SET, sorted(want.ips))
    lines += [f"delete chain {T} {name}" for name in stale_chains]
    lines += [f"delete set {T} {name}" for name in sorted(existing.sets - set(want.sets)
                                                          - {IPS_SET} - set(MAPS))]
    return "\n".join(lines) + "\n"


def _partial(want: Ruleset, have: Ruleset) -> str:
    lines: list[str] = []
    new_chains = [n for n in want.chains if n not in have.chains]
    lines += [_declare_chain(n) for n in new_chains]
    lines += [f"add set {T} {n} {{ {d} }}" for n, d in want.sets.items() if n not in have.sets]
    gone = [n for n in have.chains if n not in want.chains]
    lines += [f"flush chain {T} {n}" for n in gone]
    for name, rules in want.chains.items():
        if have.chains.get(name) != rules:
            lines += _fill(name, rules)
    for name in MAPS:
        old, new = have.maps.get(name, {}), want.maps.get(name, {})
        drop = [k for k, v in old.items() if new.get(k) != v]
        add = [f"{k} : {v}" for k, v in new.items() if old.get(k) != v]
        lines += _elements("delete", name, sorted(drop))
        lines += _elements("add", name, sorted(add))
    lines += _elements("delete", IPS_SET, sorted(have.ips - want.ips))
    lines += _elements("add", IPS_SET, sorted(want.ips - have.ips))
    lines += [f"delete chain {T} {n}" for n in gone]
    lines += [f"delete set {T} {n}" for n in have.sets if n not in want.sets]
    return "\n".join(lines) + ("\n" if lines else "")
