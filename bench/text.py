"""Made-up post text for the benchmarks: a few sentences, sometimes a list, code or a quote."""

import random

WORDS = [
    "backup",
    "restore",
    "server",
    "disk",
    "network",
    "router",
    "vlan",
    "docker",
    "compose",
    "nginx",
    "proxy",
    "certificate",
    "renew",
    "cron",
    "timer",
    "log",
    "rotate",
    "snapshot",
    "zfs",
    "pool",
    "raid",
    "power",
    "idle",
    "watt",
    "fan",
    "noise",
    "cable",
    "switch",
    "port",
    "firewall",
    "rule",
    "update",
    "kernel",
    "reboot",
]


def sentence(chance: random.Random) -> str:
    words = chance.choices(WORDS, k=chance.randint(6, 16))
    return " ".join(words).capitalize() + "."


def message_text(chance: random.Random) -> str:
    parts = [" ".join(sentence(chance) for _ in range(chance.randint(1, 3)))]
    kind = chance.random()
    if kind < 0.15:
        parts.append("```sh\nsudo systemctl restart " + chance.choice(WORDS) + "\n```")
    elif kind < 0.3:
        parts.append("\n".join(f"- **{w}**: `{w}.conf`" for w in chance.sample(WORDS, 3)))
    elif kind < 0.4:
        parts.append("> " + sentence(chance))
    return "\n\n".join(parts)
