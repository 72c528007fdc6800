"""The one error tree of agent/network.

::

    NetworkError                  anything the pod network cannot do
     +-- InvalidNetworkConfig     bad input: a CIDR, an address, a name (says which)
     +-- IPAMError                the node-local IP allocator
     |    +-- IPAMExhausted       no free address left in the pod CIDR
     +-- NetnsError               creating, opening or removing a network namespace
     |    +-- ThreadNetnsLost     a thread could not return to the node's netns
     +-- LinkError                bridge / veth / address / sysctl work failed
     +-- RouteError               host-gw route programming failed

Every message names the object it is about (pod, CIDR, interface, route) so a
person reading an event or a log line can act on it.
"""

from __future__ import annotations


class NetworkError(Exception):
    """Base of every error raised by agent/network."""


class InvalidNetworkConfig(NetworkError, ValueError):
    """Input that cannot be right: a malformed CIDR or address, a bad name."""


class IPAMError(NetworkError):
    """The node-local IP allocator failed (its store is unreadable, ...)."""


class IPAMExhausted(IPAMError):
    """Every address of the pod CIDR is taken."""


class NetnsError(NetworkError):
    """A network namespace could not be created, opened or removed."""


class ThreadNetnsLost(NetnsError):
    """A thread that switched into another network namespace could not switch back."""


class LinkError(NetworkError):
    """A link, address or sysctl could not be configured."""


class RouteError(NetworkError):
    """A route to another node's pod CIDR could not be programmed."""
