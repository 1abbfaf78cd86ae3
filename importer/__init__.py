"""avosms-import: create AvoSMS contact lists from a spreadsheet, row by row, safely."""

from __future__ import annotations

__version__ = "0.1.0"
