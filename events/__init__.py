"""The domain of the logbook: aggregates, their events, the vocabulary and its rules.

Pure Python on the ``eventsourcing`` library: no web framework, no database, no
environment, and no clock but the ``now`` each command is given.
"""

from events.access_token import AccessToken
from events.account import Account
from events.client import Client, FollowUp
from events.contact import CORRECTABLE_FIELDS, Contact
from events.policy import Policy
from events.profile import Profile
from events.review import Review
from events.team import Team

__all__ = [
    "CORRECTABLE_FIELDS",
    "AccessToken",
    "Account",
    "Client",
    "Contact",
    "FollowUp",
    "Policy",
    "Profile",
    "Review",
    "Team",
]
