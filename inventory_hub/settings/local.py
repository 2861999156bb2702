"""Settings for `make run`: embedded defaults unless DATABASE_URL / REDIS_URL say otherwise."""

from .base import *  # noqa: F403
from .env import env_bool

DEBUG = env_bool("DEBUG", True)
