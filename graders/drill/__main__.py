"""``python -m graders.drill``: the terminal drill and mock interview (see :mod:`graders.drill.terminal`)."""

from graders.drill.terminal import main

if __name__ == "__main__":
    raise SystemExit(main())
