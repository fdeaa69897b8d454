"""Build hook: compile the gettext catalogs whenever the package is built or installed."""

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithCatalogs(build_py):
    def run(self):
        from core.i18n_build import compile_all

        compile_all()
        super().run()


setup(cmdclass={"build_py": BuildPyWithCatalogs})
