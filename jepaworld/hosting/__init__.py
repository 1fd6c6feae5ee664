"""What the servers (`serve`: HTTP, `mcp`: Model Context Protocol) share: expiring sessions, who may call."""

from jepaworld.hosting.access import TOKEN_ENV, check_bind, is_loopback, load_token, token_matches
from jepaworld.hosting.sessions import SessionStore

__all__ = ["TOKEN_ENV", "SessionStore", "check_bind", "is_loopback", "load_token", "token_matches"]
