"""The admin pages of posts, bots, queues and planning. Django's admin
autodiscovery imports this package; each module registers its pages."""

from bots.admin import planning, posts, scheduling  # noqa: F401  (registers the pages)
