from tensorbridge.cli import main

raise SystemExit(main())
