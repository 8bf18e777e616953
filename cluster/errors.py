"""The base of every error a user can fix: bad config, bad manifest, unreachable cluster, unusable tier.

The CLI turns any of them into one line on stderr and exit status 2, without importing the modules
that raise them (so `decide` does not load the Kubernetes client just to name its error).
"""


class UserError(Exception):
    """Something outside the code is wrong; the message says what and how to fix it."""
