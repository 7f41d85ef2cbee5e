from quarkbot.cli import main

main()
