"""Judges a scim2-tester run (`scim2 test` output): every check must
succeed, except the ones left out below, each by check name and the
refusal it meets, with the reason. Exits non-zero, printing what failed.

Usage: judge.py --sup on|off RESULT_FILE
"""

import re
import sys

# With SUNK User Provisioning on, the tester fills the CoreWeave extension
# with random values: UUIDs as SSH keys, POSIX names, home directories and
# shells, and random integers as UIDs and GIDs. Roster refuses each of them
# (docs/scim.md, "SUNK User Provisioning": keys are parsed and checked;
# names are POSIX names; paths are absolute; ids outside the reserved ranges
# and at or above the org's ranges), so these checks meet a 400 by design.
EXTENSION_CHECKS = {
    "object_creation",
    "object_query_with_attributes",
    "object_list_with_attributes",
    "search_with_attributes",
    "object_replacement",
    "check_add_attribute",
    "check_remove_attribute",
    "check_replace_attribute",
}
REFUSED_BY_DESIGN = [
    re.compile(r"sunkSshKeys\[\d+\] \(.*\) (has an unknown or missing key type|is not a valid)"),
    re.compile(r"is not a valid POSIX name"),
    re.compile(r"(sunkPreferredHomeDirectory|sunkLoginShell) .* must be an absolute path"),
    re.compile(r"sunkPosix(User|Group)Id -?\d+ is (reserved|below the organization's ranges)"),
]
# With SUP on, group members carry `display`: the member's POSIX username,
# which CoreWeave's nsscache fork reads (docs/clusters.md, section 3). It is
# declared in /Schemas as a read-only sub-attribute; the tester's PATCH
# check compares the members it sent (no display) with those returned, field
# by field, without regard to mutability.
MEMBER_DISPLAY = re.compile(r"PATCH modify\(\) returned unexpected value for 'members'")
MEMBER_DISPLAY_CHECKS = {"check_add_attribute", "check_replace_attribute"}

STATUS = re.compile(r"^(SUCCESS|ERROR|CRITICAL|SKIPPED|WARNING|INFO)\b\s*(\S*)")


def blocks(text):
    """(status, check name, detail) for each reported check."""
    current = None
    for line in text.splitlines():
        m = STATUS.match(line)
        if m:
            if current:
                yield current
            current = [m.group(1), m.group(2), []]
        elif current:
            current[2].append(line)
    if current:
        yield current


def left_out(sup, name, detail):
    if sup != "on":
        return None
    if name in EXTENSION_CHECKS and any(p.search(detail) for p in REFUSED_BY_DESIGN):
        return "a CoreWeave extension value Roster refuses (docs/scim.md)"
    if name in MEMBER_DISPLAY_CHECKS and MEMBER_DISPLAY.search(detail) and "display='" in detail:
        return "members.display, the member's POSIX username (read-only)"
    return None


def main():
    args = sys.argv[1:]
    sup = args[args.index("--sup") + 1] if "--sup" in args else "off"
    path = args[-1]
    with open(path) as f:
        text = f.read()
    passed, failed, excused = 0, [], {}
    for status, name, detail_lines in blocks(text):
        detail = "\n".join(detail_lines)
        if status == "SUCCESS":
            passed += 1
        elif status in ("ERROR", "CRITICAL", "SKIPPED"):
            why = left_out(sup, name, detail)
            if why:
                excused[why] = excused.get(why, 0) + 1
            else:
                failed.append((status, name, detail))
    # Fewer checks pass with SUP on (those left out above); each run must
    # still exercise the suite broadly.
    minimum = 100 if sup == "off" else 80
    label = f"scim2-tester (SUP {sup})"
    for status, name, detail in failed:
        print(f"{status} {name}\n{detail}", file=sys.stderr)
    summary = f"{label}: {passed} passed, {len(failed)} failed"
    for why, n in excused.items():
        summary += f"; {n} left out: {why}"
    if failed or passed < minimum:
        if passed < minimum:
            print(f"only {passed} checks passed; at least {minimum} must", file=sys.stderr)
        print(summary, file=sys.stderr)
        sys.exit(1)
    print(summary)


if __name__ == "__main__":
    main()
