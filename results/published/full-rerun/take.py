"""Print and remove the first line of a queue file (run under flock by each lane)."""

import sys

path = sys.argv[1]
lines = open(path).read().splitlines()
if lines:
    print(lines[0])
    open(path, "w").write("".join(l + "\n" for l in lines[1:]))
