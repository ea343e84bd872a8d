#!/usr/bin/env python3
"""Prints line coverage per folder from a gcovr JSON summary: each broker's folder
(actors/brokers/<name>) and every top-level folder. Folders held to the project's 90% line
coverage goal (api/ and each broker folder) are marked when below it."""
import collections
import json
import sys

GOAL = 90.0

def folder_of(path):
    parts = path.split("/")
    if parts[0] == "actors" and len(parts) > 3 and parts[1] == "brokers":
        return "/".join(parts[:3])
    return parts[0]

def main(summary_file):
    with open(summary_file) as f:
        summary = json.load(f)
    folders = collections.defaultdict(lambda: [0, 0])
    for entry in summary["files"]:
        covered, total = folders[folder_of(entry["filename"])]
        folders[folder_of(entry["filename"])] = [covered + entry["line_covered"],
                                                 total + entry["line_total"]]
    print(f"{'folder':28s} {'lines':>13s} {'coverage':>9s}")
    for name, (covered, total) in sorted(folders.items()):
        percent = 100.0 * covered / total if total else 100.0
        held = name == "api" or name.startswith("actors/brokers/")
        mark = "  below the 90% goal" if held and percent < GOAL else ""
        print(f"{name:28s} {covered:6d}/{total:6d} {percent:8.1f}%{mark}")

if __name__ == "__main__":
    main(sys.argv[1])
