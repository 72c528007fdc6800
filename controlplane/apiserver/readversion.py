"""What the resourceVersion of a get or a list asks for, as Kubernetes has it:

    resourceVersion   resourceVersionMatch   the read
    ""                ""                     the latest state (a quorum read of etcd)
    "0"               "" / NotOlderThan      any state; corral has no cache: the latest
    N                 "" / NotOlderThan      not older than N: the latest, which is, unless
                                             the store never reached N (etcd restored from
                                             an older snapshot): Gone, "too large"
    N                 Exact (lists only)     the state at revision N, from etcd's history;
                                             Gone once compacted

    v = parse(resource_version, match, listing=True)   # errors.Invalid for a bad pair
    items, rev = await store.list(resource, ns, revision=v.revision)
    v.check(rev)                                       # errors.Gone: too large

Errors: errors.Invalid (field resourceVersion or resourceVersionMatch, as Kubernetes'
ListOptions validation names them), errors.Gone.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane import errors

EXACT, NOT_OLDER_THAN = "Exact", "NotOlderThan"
_OPTIONS = 'ListOptions.meta.k8s.io ""'


@dataclass(frozen=True)
class ReadVersion:
    revision: int = 0          # read at this etcd revision (0: the latest)
    at_least: int = 0          # the read must have reached this revision

    def check(self, read_revision: int) -> None:
        """errors.Gone when a read at `read_revision` is older than what was asked for."""
        if self.at_least and read_revision < self.at_least:
            raise errors.Gone(f"Too large resource version: {self.at_least}, current: "
                              f"{read_revision} (the store has not reached it: restored from "
                              "an older snapshot?); read again without a resourceVersion")


def parse(resource_version: str, match: str = "", *, listing: bool = True) -> ReadVersion:
    if match and not listing:
        raise invalid("resourceVersionMatch", "Forbidden: only lists take it")
    if match not in ("", EXACT, NOT_OLDER_THAN):
        raise invalid("resourceVersionMatch", f'Unsupported value: "{match}": supported '
                                               f'values: "{EXACT}", "{NOT_OLDER_THAN}", ""')
    if match and not resource_version:
        raise invalid("resourceVersionMatch", "Forbidden: resourceVersionMatch is "
                                               "forbidden unless resourceVersion is provided")
    if resource_version in ("", "0"):
        if match == EXACT:
            raise invalid("resourceVersionMatch", f'Forbidden: resourceVersionMatch "{EXACT}" '
                                                   f'is forbidden for resourceVersion "0"')
        return ReadVersion()
    try:
        revision = int(resource_version)
    except ValueError:
        revision = -1
    if revision <= 0:
        raise invalid("resourceVersion", f'Invalid value: "{resource_version}": must be a '
                                          "resourceVersion this server gave out")
    if match == EXACT:
        return ReadVersion(revision=revision)
    return ReadVersion(at_least=revision)


def invalid(field: str, message: str) -> errors.Invalid:
    """A bad read option, worded as Kubernetes' ListOptions validation words it."""
    return errors.Invalid(_OPTIONS, [errors.FieldError(field, message)])
