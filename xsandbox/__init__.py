"""A local emulator of the X API, reached only over HTTP.

It imports nothing of the platform and the platform imports nothing of it: the two
share only X's wire protocol.
"""
