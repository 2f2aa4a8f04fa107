"""DNS TXT look-ups for domain verification, behind one small interface.

`resolver()` answers the configured implementation: the class or factory named by the setting
`DNS_TXT_RESOLVER` (a dotted path), else `DnsPythonResolver`. Tests swap in a fake by monkeypatching
`apps.orgs.dns.resolver`; nothing else in the app talks to DNS.
"""

from __future__ import annotations

from typing import Protocol

import dns.exception
import dns.resolver
from django.conf import settings
from django.utils.module_loading import import_string

from apps.core.errors import ApplicationError

DNS_TIMEOUT_SECONDS = 3.0


class DnsUnavailable(ApplicationError):
    status, code, title = 503, "dns_unavailable", "DNS unavailable"


class TxtResolver(Protocol):
    def txt(self, name: str) -> list[str]:
        """The TXT strings published at `name`; [] when the name or the record does not exist.

        Raises DnsUnavailable when DNS could not answer (timeout, SERVFAIL, no nameserver)."""
        ...


class DnsPythonResolver:
    """dnspython's stub resolver: the system's nameservers unless given, 3 s for the whole look-up."""

    def __init__(self, *, timeout: float = DNS_TIMEOUT_SECONDS, nameservers: list[str] | None = None) -> None:
        self.timeout = timeout
        self.nameservers = nameservers

    def _resolver(self) -> dns.resolver.Resolver:
        resolver = dns.resolver.Resolver(configure=self.nameservers is None)
        if self.nameservers is not None:
            resolver.nameservers = list(self.nameservers)
        resolver.timeout = self.timeout  # per nameserver
        resolver.lifetime = self.timeout  # the whole look-up, retries included
        return resolver

    def txt(self, name: str) -> list[str]:
        try:
            answer = self._resolver().resolve(name, "TXT", lifetime=self.timeout, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.DNSException, OSError) as exc:
            raise DnsUnavailable(f"DNS did not answer for {name} ({type(exc).__name__}); try again later.") from None
        # One TXT record may be split into several <=255-byte strings: they form one value (RFC 7208 3.3).
        return [b"".join(rdata.strings).decode("utf-8", errors="replace") for rdata in answer]


def resolver() -> TxtResolver:
    path = getattr(settings, "DNS_TXT_RESOLVER", None)
    if path:
        return import_string(path)()
    return DnsPythonResolver()
