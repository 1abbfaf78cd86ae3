"""Kinds of import: what a row of each kind is, its roles, its rules and its plan."""
