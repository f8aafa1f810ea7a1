"""Tests of pendling.report (a package so its conftest does not shadow other areas' `conftest` imports)."""
