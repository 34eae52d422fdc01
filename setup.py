"""Builds the one compiled extension, pantheon._wire; everything else is in pyproject.toml.

PANTHEON_NO_EXTENSIONS=1 (set, non-empty and not "0", as in pantheon/wire.py) or an interpreter
other than CPython gives a pure build. Otherwise a failed compile fails the install: there is no
silent fallback to the pure-Python twin.
"""

import os
import platform
import sys

from setuptools import Extension, setup

_switch = os.environ.get("PANTHEON_NO_EXTENSIONS", "")
NO_EXTENSIONS = (_switch not in ("", "0")) or platform.python_implementation() != "CPython"

if NO_EXTENSIONS:
    print("Pure build", file=sys.stderr)
    ext_modules = []
else:
    from Cython.Build import cythonize

    print("Accelerated build", file=sys.stderr)
    ext_modules = cythonize(
        [
            Extension(
                "pantheon._wire",
                ["pantheon/_wire.pyx"],
                libraries=["crypto"],
                # SHA256_Init/Update/Final are deprecated in OpenSSL 3 but still the fastest
                # per-call path for small payloads (see DESIGN.md).
                define_macros=[("OPENSSL_SUPPRESS_DEPRECATED", None)],
            )
        ],
        compiler_directives={"language_level": 3},
    )

setup(ext_modules=ext_modules)
