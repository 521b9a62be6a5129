"""kukuri-trending's read API: trending topics and posts as a library, over HTTP and as a live feed.

Library use, without a server::

    from api import list_trending_topics
    result = await list_trending_topics(settings, limit=10)

The HTTP server (`start_api_server`) is embedded by `kukuri-trending run` and served alone by
`kukuri-trending api`; `docs/api.md` describes the endpoints.
"""

from api.models import TrendingPosts, TrendingTopics
from api.queries import TrendingReader, list_trending_posts, list_trending_topics
from api.server import ApiServer, start_api_server

__all__ = [
    "ApiServer",
    "TrendingPosts",
    "TrendingReader",
    "TrendingTopics",
    "list_trending_posts",
    "list_trending_topics",
    "start_api_server",
]
