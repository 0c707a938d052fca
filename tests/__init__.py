"""
proxykit's tests: unit tests per module, and real-socket tests in
L{tests.integration}.
"""

from ._oldtwisted import patchMemoryReactor

patchMemoryReactor()
