from twostream.cli.main import main

raise SystemExit(main())
