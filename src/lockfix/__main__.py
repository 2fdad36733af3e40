from lockfix.cli import main

main()
