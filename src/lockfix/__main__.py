"""``python -m lockfix``. git runs the merge driver once per file, so that path skips the
command-line framework's import and goes straight to the driver."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "merge-driver" and "--help" not in sys.argv[2:]:
    from lockfix.commands.merge_driver import main_from_git

    sys.exit(main_from_git(sys.argv[2:]))

from lockfix.cli import main

main()
