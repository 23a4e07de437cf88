"""Imports every feature's models so that the metadata is complete (migrations, tests)."""

from livecart.features.accounts import models as accounts
from livecart.features.catalog import models as catalog
from livecart.features.media import models as media
from livecart.features.orders import models as orders
from livecart.features.orders.sandbox import models as sandbox
from livecart.features.rooms import models as rooms
from livecart.features.sales import models as sales
from livecart.features.shows import models as shows

__all__ = ["accounts", "catalog", "media", "orders", "rooms", "sales", "sandbox", "shows"]
