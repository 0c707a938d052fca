# -*- test-case-name: tests.test_docgen -*-
"""
Tests for the documentation's generator, C{docs/_ext/proxykit_reference.py}
and C{docs/_ext/proxykit_epytext.py}:
epytext docstrings to reStructuredText, C{@ivar} text, TOML values.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from .test_reference import generator


class EpytextTests(SynchronousTestCase):
    """
    L{epytextToRest} turns epytext fields and markup into reST.
    """

    def convert(self, text: str) -> list[str]:
        return generator().epytextToRest(text.split("\n"))

    def test_inlineMarkup(self) -> None:
        """
        C{C{...}} becomes a literal, C{L{...}} a Python reference (with its
        own text when given), C{I{...}} and C{B{...}} emphasis.
        """
        self.assertEqual(
            self.convert("A C{Host} for L{ProxyConfig}, L{the pool <proxykit.ConnectionPool>}, I{not} B{this}."),
            [
                "A ``Host`` for :py:obj:`ProxyConfig`, :py:obj:`the pool <proxykit.ConnectionPool>`,"
                " *not* **this**."
            ],
        )

    def test_nestedBraces(self) -> None:
        """
        Braces inside markup are kept when they balance.
        """
        self.assertEqual(
            self.convert("An inline table C{{ url = ..., weight = N }}."),
            ["An inline table ``{ url = ..., weight = N }``."],
        )

    def test_markupAcrossLines(self) -> None:
        """
        Markup may span lines; a literal's spaces are collapsed, the
        lines kept.
        """
        self.assertEqual(
            self.convert("see C{[tls]\n    listen} and more"),
            ["see ``[tls] listen`` and more"],
        )

    def test_markupTouchingAWord(self) -> None:
        """
        A literal followed by a letter is separated with an escaped space,
        as reST requires.
        """
        self.assertEqual(self.convert("two C{Origin}s"), ["two ``Origin``\\ s"])

    def test_plainTextEscaped(self) -> None:
        """
        Characters reST takes for markup are escaped in plain text.
        """
        self.assertEqual(
            self.convert("*.example.com, a|b, `x`, name_ end"),
            ["\\*.example.com, a\\|b, \\`x\\`, name\\_ end"],
        )

    def test_fields(self) -> None:
        """
        Epytext fields become reST fields, a blank line before the first.
        """
        self.assertEqual(
            self.convert(
                "Do it.\n@param config: The C{config}.\n    More.\n@return: A value.\n"
                "@raise ConfigError: Bad.\n@ivar name: A name."
            ),
            [
                "Do it.",
                "",
                ":param config: The ``config``.",
                "    More.",
                ":returns: A value.",
                ":raises ConfigError: Bad.",
                ":ivar name: A name.",
            ],
        )

    def test_literalBlocks(self) -> None:
        """
        Literal blocks (after C{::}) and doctest blocks are kept as they
        are.
        """
        self.assertEqual(
            self.convert("Like this::\n\n    C{x} *y*\n\nAfter C{z}.\n\n>>> f(C{a})\n1\n\nEnd."),
            ["Like this::", "", "    C{x} *y*", "", "After ``z``.", "", ">>> f(C{a})", "1", "", "End."],
        )


    def test_indentedExample(self) -> None:
        """
        An indented block after a paragraph, without C{::}, is an example:
        a literal block.  Inside a field, it is the field's next paragraph.
        """
        self.assertEqual(
            self.convert("Use it:\n\n    f(C{x})\n    g()\n\nDone.\n@ivar y: One.\n\n    Two."),
            ["Use it:", "", "::", "", "    f(C{x})", "    g()", "", "Done.", "", ":ivar y: One.", "", "    Two."],
        )


class IvarTests(SynchronousTestCase):
    """
    L{ivars} reads the C{@ivar} fields of a class's docstring.
    """

    def test_ivars(self) -> None:
        """
        Each C{@ivar} with its continuation lines and paragraphs, by name;
        other fields end it.
        """

        class Example:
            """
            Something.

            @ivar one: First
                line.

                Second paragraph.
            @ivar two: Two.
            @see: elsewhere.
            """

        self.assertEqual(
            generator().ivars(Example),
            {"one": "First\nline.\n\nSecond paragraph.", "two": "Two."},
        )


class TOMLValueTests(SynchronousTestCase):
    """
    L{tomlValue} writes defaults as TOML.
    """

    def test_values(self) -> None:
        """
        Booleans, numbers, strings, tuples and sets (sorted).
        """
        tomlValue = generator().tomlValue
        self.assertEqual(
            [tomlValue(v) for v in (True, 10.0, 3, "a", ("x", 1), frozenset({443, 80}))],
            ["true", "10.0", "3", '"a"', '["x", 1]', "[80, 443]"],
        )
