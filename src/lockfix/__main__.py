"""``python -m lockfix``. git runs the merge driver once per file, so that path skips the
command-line framework's import and goes straight to the driver, and first to the merge's
shared results (lockfix.batch), which need nothing heavier than the standard library."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "merge-driver" and "--help" not in sys.argv[2:]:
    from lockfix.batch import take_argv

    taken = take_argv(sys.argv[2:])
    if taken is not None and "text" in taken:
        sys.exit(0)
    from lockfix.commands.merge_driver import main_from_git

    sys.exit(main_from_git(sys.argv[2:], taken=taken))

from lockfix.cli import main

main()
