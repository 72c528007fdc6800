"""`attach` (typing into a running container) is for admins only: never a node, never a user."""

from __future__ import annotations

import pytest

from controlplane import errors
from controlplane.security.authz import authorize
from tests.unit.security.test_authz import ADMIN, ALICE, CP, A, pod


@pytest.mark.parametrize("ident", [ADMIN, CP])
def test_admins_may_attach(ident: object) -> None:
    authorize(ident, "attach", "pods", "default", "web", obj=pod())  # type: ignore[arg-type]


@pytest.mark.parametrize("ident,who", [(A, 'node "node-a"'), (ALICE, 'user "alice"')])
def test_nodes_and_users_may_not_attach(ident: object, who: str) -> None:
    with pytest.raises(errors.Forbidden) as e:
        authorize(ident, "attach", "pods", "default", "web", obj=pod())  # type: ignore[arg-type]
    assert e.value.message == (f'{who} may not attach to pod "default/web": only admins '
                               "(group system:masters) attach to containers")
