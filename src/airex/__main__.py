"""``python -m airex``: the same as the ``airex`` command."""

from airex.cli import main

if __name__ == "__main__":
    main()
