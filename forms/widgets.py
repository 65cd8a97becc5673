"""Small widgets deform lacks without JavaScript (our CSP forbids inline scripts)."""

from __future__ import annotations

import deform


class NativeDateWidget(deform.widget.TextInputWidget):
    """``<input type="date">``: the browser's own date picker, keyboard accessible."""

    template = "native_date"
