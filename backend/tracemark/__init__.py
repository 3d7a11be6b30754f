"""Tracemark: an open system for image copyright.

The package keeps data flowing one way: the HTTP API and the command line call services, services apply the
domain rules and call adapters (chain, IPFS, storage, matching, crawler) at the edges.
"""

__version__ = "0.1.0"
