from pendling.cli import main

main()
