"""The one interface every channel kind implements: it lives with the networks
(calendar_app/networks/base.py), the lowest layer; kept here for the imports that name it."""

from calendar_app.networks.base import Message, Outcome, Publisher

__all__ = ["Message", "Outcome", "Publisher"]
