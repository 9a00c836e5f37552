"""The region a phone number written without its country code is read in (COMPLAINTS_PHONE_REGION).

The masker and every check for unmasked PII read numbers in the same one. Its own module, with
phonenumbers alone (26 ms to import): the settings read it, and the webhook receiver, which reads
the settings, must restart in well under a second.
"""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "GB"


def check_region(region: str) -> str:
    """``region`` if phonenumbers knows it (ISO 3166 alpha-2, upper case). In a region it does not
    know, no national number is read as a phone: it would be left unmasked, and the checks, reading
    in the same region, would not see it."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{region!r} is not a phone region phonenumbers knows (an ISO 3166 code such as GB or US)")
    return region
