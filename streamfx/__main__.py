from streamfx.cli import main

raise SystemExit(main())
