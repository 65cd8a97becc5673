"""企政通 realtime server (chat with online departments, meeting signalling).

Its own asyncio process on ``websockets``; it shares only the models and the token
check with the portal and reaches the portal through the broker. See
docs/architecture.md.
"""
