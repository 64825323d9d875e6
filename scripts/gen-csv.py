#!/usr/bin/env python3
"""Write a CSV of about SIZE bytes with mixed column types, for memory and speed measurements.

usage: scripts/gen-csv.py SIZE_MB OUT.csv
Columns: id (integer), amount (float), day (date), at (datetime), flag (boolean), city (string),
note (quoted string with commas), score (integer with some nulls).
"""
import random
import sys

def main() -> None:
    target = int(float(sys.argv[1]) * 1_000_000)
    out = sys.argv[2]
    rng = random.Random(42)
    cities = ["Lisbon", "Zürich", "São Paulo", "Kraków", "Osaka", "Austin", "Nairobi", "Oslo"]
    written = 0
    with open(out, "w", encoding="utf-8", newline="") as f:
        header = "id,amount,day,at,flag,city,note,score\n"
        f.write(header)
        written += len(header)
        i = 0
        lines = []
        while written < target:
            score = "" if i % 17 == 0 else str(rng.randint(-500, 500))
            line = (
                f"{i},{rng.uniform(-1e4, 1e4):.2f},2024-{i % 12 + 1:02d}-{i % 28 + 1:02d},"
                f"2024-03-{i % 28 + 1:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z,"
                f"{'true' if i % 3 else 'false'},{cities[i % len(cities)]},"
                f"\"note {i}, with a comma\",{score}\n"
            )
            lines.append(line)
            written += len(line.encode())
            i += 1
            if len(lines) >= 10000:
                f.write("".join(lines))
                lines = []
        f.write("".join(lines))

if __name__ == "__main__":
    main()
