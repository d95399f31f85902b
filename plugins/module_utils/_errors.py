# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one base of every error module_utils raise on purpose. Standard library only.

module_utils never call fail_json: they raise a subclass of GofleetError whose message says what
was wrong, what was expected and what to do. Each module catches GofleetError once, in main(),
after its cleanup and with its lock released in `finally`, and fails once with that message (and
whatever the error carries in `result`: the facts known when it happened).
"""

from __future__ import annotations


class GofleetError(Exception):
    """An expected failure; str() is the message for the user. `result`: extra return values."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.result = result
