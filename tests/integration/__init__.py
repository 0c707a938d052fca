"""
Real-socket tests: listeners on 127.0.0.1 port 0, real clients.
"""
