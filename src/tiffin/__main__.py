from tiffin.cli import main

raise SystemExit(main())
