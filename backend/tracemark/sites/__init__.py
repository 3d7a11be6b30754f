"""Sites the crawler visits: who operates them (`operator`) and which country they belong to (`country`).

Pure domain code: HTML in, typed values out; no web framework, no database, no network.

Public surface:
    Operator, imprint_links, extract_operator     tracemark.sites.operator
    Country, country_of                           tracemark.sites.country
"""

from tracemark.sites.country import Country, country_of
from tracemark.sites.operator import Operator, extract_operator, imprint_links

__all__ = ["Country", "Operator", "country_of", "extract_operator", "imprint_links"]
