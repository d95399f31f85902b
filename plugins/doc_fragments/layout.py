# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # go_install's install layout, written once: every module that installs into it or searches it
    # (extends_documentation_fragment: gofleet.golang.layout). The defaults are the ones of
    # plugins/module_utils (install_root /opt/go, active_link /usr/local/go).
    DOCUMENTATION = r"""
options:
  install_root:
    description:
      - Folder holding one folder per installed Go version, as M(gofleet.golang.go_install) makes them
        (C(<install_root>/go1.27.3)).
    type: path
    default: /opt/go
  active_link:
    description:
      - Symbolic link pointed at the active version (the GOROOT a login shell's C(go) runs from).
        M(gofleet.golang.go_install) switches it atomically and refuses an existing directory at this path,
        never replacing it.
    type: path
    default: /usr/local/go
"""

    # Where Go releases are published (go_install on the node, the go_release lookup on the controller):
    # extends_documentation_fragment: gofleet.golang.layout.base_url
    BASE_URL = r"""
options:
  base_url:
    description:
      - Where the releases are published, in go.dev's URL shapes (C(<base_url>/dl/?mode=json&include=all),
        C(<base_url>/dl/<file>) and its C(<base_url>/dl/<file>.sha256) sidecar). A mirror without the JSON
        index is used through the sidecars, which resolves exact versions only.
    type: str
    default: https://go.dev
"""
