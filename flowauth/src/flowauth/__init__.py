"""FlowAuth: users, roles and servers; tokens for FlowAPI minted within each role's limits.

from flowauth.settings import Settings
from flowauth.app import create_app

app = create_app(Settings.from_env())
"""

__version__ = "0.1.0"
