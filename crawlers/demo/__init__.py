"""The demo news network: a local HTTP server with fictional outlets about Vĩnh Long.

The tests and the README's first command crawl it, since these machines reach no real site.
Content comes from a compact story bank (press.yaml, foreign.yaml, social.yaml) rendered through
one template set per outlet; `expected` tells tests the ground truth (items, syndicated copies,
the rumour and its denial, faults). Every name, article and post in it is invented.
"""

from .server import DemoNetwork

__all__ = ["DemoNetwork"]
