"""The catalogue of attack and response steps a scenario file lists (simulate/attack_file.py names their
parameters). Each step writes its records in every log family that would see it, through the Attack's
record helpers, and its entries of the truth's timeline. A new step: its function in a module here, its
parameters' model in attack_file.py, and one line below."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from breachscope.simulate.attack import Attack, StoryInputs
    from breachscope.simulate.attack_file import Step

#: step name -> module (the function in it has the step's name)
REGISTRY = {
    "exposed_console_exploit": "initial_access",
    "vpn_rdp": "initial_access",
    "discovery": "discovery",
    "smb_service_lateral": "lateral",
    "wmi_lateral": "lateral",
    "database_sessions": "database",
    "staging": "database",
    "smb_transfer": "exfiltration",
    "archive_upload": "exfiltration",
    "acl_restriction": "defender",
    "isolate_host": "defender",
    "announcement": "defender",
    "denied_attempts": "foothold",
    "c2_beacons": "foothold",
    "password_guessing": "foothold",
    "rdp_lateral": "lateral_tools",
    "winrm_lateral": "lateral_tools",
    "psexec_lateral": "lateral_tools",
    "lsass_dump": "credentials",
    "kerberoasting": "credentials",
    "dns_tunnel_exfiltration": "exfiltration_channels",
    "cloud_upload": "exfiltration_channels",
    "phishing": "phishing",
    "rdp_brute_force": "brute_force",
    "dcsync": "dcsync",
    "ssh_lateral": "ssh",
    "ftp_exfiltration": "exfiltration_ftp",
    "disable_account": "accounts",
    "uac_bypass_service": "privilege",
    "config_file_password": "config_password",
    "smb_exfiltration": "exfiltration_smb",
}


def run(attack: Attack, step: Step, inputs: StoryInputs) -> None:
    module = importlib.import_module(f"{__name__}.{REGISTRY[step.step]}")
    function: Callable[[Attack, Any, StoryInputs], None] = getattr(module, step.step)
    function(attack, step, inputs)
